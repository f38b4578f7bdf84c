"""The fully convolutional mask network of the paper (SPEC section 4)."""
from __future__ import annotations

import copy

import torch
from torch import nn


def _conv(in_ch: int, out_ch: int, kernel: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2)


class FrequencyNorm(nn.Module):
    """Batch normalisation of each frequency bin of the input's first channel (the feature),
    over the batch and the frames (running statistics in eval mode, so each frame is mapped
    on its own); further channels pass as they are."""

    def __init__(self, bins: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, N) -> (B, C, F, N)."""
        normed = self.norm(x[:, 0]).unsqueeze(1)
        return normed if x.shape[1] == 1 else torch.cat([normed, x[:, 1:]], 1)


class ClipNorm(nn.Module):
    """Each frequency bin of each clip's first channel (the feature) standardised over the
    clip's own frames, in training and inference alike: no statistics of the training noise
    are kept; further channels pass as they are."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, F, N) -> (B, C, F, N)."""
        feature = x[:, :1]
        var, mean = torch.var_mean(feature, dim=-1, keepdim=True, correction=0)
        normed = (feature - mean) * torch.rsqrt(var + 1e-5)
        return normed if x.shape[1] == 1 else torch.cat([normed, x[:, 1:]], 1)


def build_cnn(blocks: int, fcblocks: int, channels: int, droprate: float, out_channels: int,
              out_kernel: int, regulariser: str, input_norm: nn.Module | None = None,
              in_channels: int = 1) -> nn.Sequential:
    """CNN of 3 + 2 * blocks convolutions mapping (B, in_channels, F, N) to
    (B, out_channels, F, N).

    The input first goes through ``input_norm`` when given. Every
    convolution but the last is followed by ReLU and a regulariser: ``batchnorm``
    (BatchNorm2d) or ``dropout`` (Dropout2d(droprate)). The last ``fcblocks`` blocks use
    1x1 kernels; all other hidden convolutions are 3x3.
    """
    if not 0 <= fcblocks <= blocks:
        raise ValueError(f"fcblocks must be between 0 and blocks ({blocks}), got {fcblocks}")

    def regularise(ch: int) -> nn.Module:
        return nn.BatchNorm2d(ch) if regulariser == "batchnorm" else nn.Dropout2d(droprate)

    layers: list[nn.Module] = [input_norm] if input_norm is not None else []

    def add(in_ch: int, out_ch: int, kernel: int) -> None:
        layers.extend([_conv(in_ch, out_ch, kernel), nn.ReLU(), regularise(out_ch)])

    add(in_channels, channels, 3)
    add(channels, channels, 3)
    for i in range(blocks):
        kernel = 3 if i < blocks - fcblocks else 1
        width = channels * 2 ** (i + 1)
        add(width // 2, width, kernel)
        add(width, width, kernel)
    layers.append(_conv(channels * 2 ** blocks, out_channels, out_kernel))
    return nn.Sequential(*layers)


def conv_depth(model: nn.Module) -> int:
    """Number of convolution layers in ``model``."""
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


class ShiftFoldedConv(nn.Conv2d):
    """A 3x3, zero-padded convolution of ``scale * x + shift`` computed as one convolution of
    ``x`` (inference only; it edits its output in place).

    ``scale`` folds into the weights and ``shift`` into the bias; the bias then also counts
    the kernel taps that fall in the zero padding, so their share is taken back on the
    border rows and columns of the output.
    """

    def __init__(self, conv: nn.Conv2d, scale: torch.Tensor, shift: torch.Tensor):
        if conv.kernel_size != (3, 3) or conv.padding != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError(f"only 3x3 convolutions with zero padding 1 fold a shift, not {conv}")
        super().__init__(conv.in_channels, conv.out_channels, 3, padding=1,
                         device=conv.weight.device, dtype=conv.weight.dtype)
        shifted_taps = (conv.weight * shift[:, None, None]).sum(1)  # (out, 3, 3)
        self.weight.data.copy_(conv.weight * scale[:, None, None])
        self.bias.data.copy_(conv.bias + shifted_taps.sum((1, 2)))
        edges = [shifted_taps[:, 0], shifted_taps[:, 2], shifted_taps[:, :, 0],
                 shifted_taps[:, :, 2]]  # top, bottom, left, right taps: (out, 3) each
        self.register_buffer("edge_shifts", torch.stack([e.sum(-1)[:, None] for e in edges]))
        self.register_buffer("shifted_taps", shifted_taps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in, F, N) -> (B, out, F, N)."""
        out = super().forward(x)
        top, bottom, left, right = self.edge_shifts  # (out, 1) each
        out[:, :, 0] -= top
        out[:, :, -1] -= bottom
        out[:, :, :, 0] -= left
        out[:, :, :, -1] -= right
        for row, col in ((0, 0), (0, -1), (-1, 0), (-1, -1)):  # subtracted twice above
            out[:, :, row, col] += self.shifted_taps[:, row, col]
        return out


def _fold_batchnorm(norm: nn.BatchNorm2d, conv: nn.Conv2d) -> nn.Conv2d:
    """``conv(norm(x))``, with ``norm`` in eval mode, as one convolution of ``x``."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    if conv.kernel_size != (1, 1):
        return ShiftFoldedConv(conv, scale, shift)
    folded = copy.deepcopy(conv)
    folded.weight.data.mul_(scale[:, None, None])
    folded.bias.data.add_((conv.weight[:, :, 0, 0] * shift).sum(1))
    return folded


@torch.no_grad()
def inference_network(model: nn.Sequential) -> nn.Sequential:
    """``model``'s eval-mode function with fewer passes over the activations, for inference
    only: every BatchNorm folded into the convolution after it, dropout left out, ReLU in
    place (in a Sequential only the next layer reads a layer's output). Layers kept as they
    are are shared with ``model``."""
    layers: list[nn.Module] = []
    norm: nn.BatchNorm2d | None = None
    for layer in model:
        if isinstance(layer, nn.Dropout2d):
            continue
        if norm is not None:
            if isinstance(layer, nn.Conv2d):
                layer = _fold_batchnorm(norm, layer)
            else:
                layers.append(norm)
            norm = None
        if isinstance(layer, nn.BatchNorm2d):
            norm = layer
        elif isinstance(layer, nn.ReLU) and layers:  # never overwrite the caller's input
            layers.append(nn.ReLU(inplace=True))
        else:
            layers.append(layer)
    if norm is not None:
        layers.append(norm)
    return nn.Sequential(*layers).eval()


def for_inference(model: nn.Sequential, device: torch.device) -> nn.Module:
    """An eval-mode copy of ``model`` on ``device`` in channels-last, the faster layout for
    inference on every device measured (1.3x the default layout's clips/s on an AVX2 CPU);
    on CPU simplified by ``inference_network`` (another 1.2-1.35x there; not measured on
    CUDA, where it would trade six BatchNorm kernels for many small ones)."""
    model = copy.deepcopy(model).to(device).eval()
    if device.type == "cpu":
        model = inference_network(model)
    return model.to(memory_format=torch.channels_last)
