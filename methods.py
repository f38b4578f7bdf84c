"""The one table of method-specific choices: network output, regulariser,
training pairs, training loss and inference mask (SPEC section 1).

Adding a method means adding one :class:`Method` to ``METHODS``.
"""
from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass, replace
from typing import Callable

import torch
from torch import nn

import loss
from model import build_cnn
from spectral import Spectral

StepResult = tuple[torch.Tensor, torch.Tensor]
"""(objective to back-propagate, loss to report), both scalars."""


def _pu_step(model: nn.Module, spectral: Spectral, noisy: torch.Tensor, noise: torch.Tensor,
             args: Namespace) -> StepResult:
    """Noisy clips are unlabelled (0), noise clips positive (1), bin by bin."""
    spec = spectral.stft(torch.cat([noisy, noise]))
    magnitude = spec.abs()
    labels = torch.cat([torch.zeros(len(noisy), device=noisy.device),
                        torch.ones(len(noise), device=noisy.device)])
    logits = model(spectral.feature_of(magnitude))[:, 0].float()
    r_plus, r_minus = loss.pu_risks(logits, labels, magnitude, args.prior, args.p, args.risk_norm,
                                   surrogate=args.pu_loss)
    objective = loss.pu_objective(r_plus, r_minus, args.mode, args.beta, args.gamma)
    return objective, (r_plus + r_minus).detach()


def _pn_step(model: nn.Module, spectral: Spectral, noisy: torch.Tensor, clean: torch.Tensor,
             args: Namespace) -> StepResult:
    noisy_mag, clean_mag = spectral.stft(torch.cat([noisy, clean])).abs().chunk(2)
    logits = model(spectral.feature_of(noisy_mag))[:, 0].float()
    value = loss.signal_approximation(logits, noisy_mag, clean_mag)
    return value, value.detach()


def _mixit_step(model: nn.Module, spectral: Spectral, noisy: torch.Tensor, noise: torch.Tensor,
                args: Namespace) -> StepResult:
    """The mixture of mixtures at unit std; its parts share its scaling (``--mixit_scale
    shared``) or keep their own unit std (``unit``, the reference)."""
    mixture = noisy + noise
    scale = mixture.std(dim=-1, keepdim=True).clamp_min(1e-8)
    parts = torch.cat([noisy, noise])
    if args.mixit_scale == "shared":
        parts = parts / scale.repeat(2, 1)
    mags = spectral.stft(torch.cat([mixture / scale, parts])).abs()
    mixture_mag, noisy_mag, noise_mag = mags.chunk(3)
    logits = model(spectral.feature_of(mixture_mag)).float()
    value = loss.mixit_loss(logits, mixture_mag, noisy_mag, noise_mag,
                            per_clip=args.mixit_assignment == "clip")
    return value, value.detach()


def _pu_binary_mask(logits: torch.Tensor) -> torch.Tensor:
    """The paper's mask: keep the bins the classifier does not call noise (logit < 0)."""
    return (logits[:, 0] < 0).to(logits.dtype)


def _pu_soft_mask(logits: torch.Tensor) -> torch.Tensor:
    """sigmoid(-logit / s), s the frame's median |logit| over frequency: the classifier's
    decision, softened on a scale each frame sets itself (a bin of median confidence gets
    0.27 or 0.73), since a PU classifier's logits have no fixed scale. Frame by frame, so
    a file enhanced in chunks gets the mask it would get whole."""
    scale = logits[:, 0].abs().median(dim=1, keepdim=True).values.clamp_min(1e-6)
    return torch.sigmoid(-logits[:, 0] / scale)


PU_MASKS = {"soft": _pu_soft_mask, "binary": _pu_binary_mask}
"""``--mask`` choices of PU."""
PU_MASK_BEFORE_CHOICE = "binary"
"""The mask of PU checkpoints written before ``--mask`` existed."""


@dataclass(frozen=True)
class Method:
    """Everything that differs between the training methods."""

    out_channels: int
    out_kernel: int
    regulariser: str
    second: Callable[[Namespace], str]
    """What the training set pairs with each noisy clip (see ``dataset.ExampleSet``)."""
    step: Callable[[nn.Module, Spectral, torch.Tensor, torch.Tensor, Namespace], StepResult]
    mask: Callable[[torch.Tensor], torch.Tensor]
    """(B, C, F, N) logits -> (B, F, N) mask in [0, 1]."""
    clips_per_line: int = 1
    """Clips the network sees per training line (PU: the noisy clip and the noise clip)."""
    loss_name: str = "loss"


METHODS: dict[str, Method] = {
    "PU": Method(1, 1, "batchnorm",
                 lambda args: "noise_paired" if args.noise_level == "paired" else "noise",
                 _pu_step, _pu_binary_mask, clips_per_line=2, loss_name="risk"),
    "PN": Method(1, 3, "batchnorm", lambda args: "clean",
                 _pn_step, lambda logits: torch.sigmoid(logits[:, 0])),
    "MixIT": Method(3, 3, "dropout", lambda args: "noise",
                    _mixit_step, lambda logits: torch.sigmoid(logits[:, 0])),
}


def method_for(config: dict) -> Method:
    """The method of a ``model_config``, with PU's inference mask set by its ``mask``."""
    method = METHODS[config["method"]]
    if config["method"] == "PU":
        method = replace(method, mask=PU_MASKS[config.get("mask", PU_MASK_BEFORE_CHOICE)])
    return method


def build_model(config: dict) -> nn.Sequential:
    """The CNN described by a checkpoint's ``model_config`` (method, blocks, fcblocks,
    channels, droprate, regulariser)."""
    method = METHODS[config["method"]]
    return build_cnn(config["blocks"], config["fcblocks"], config["channels"], config["droprate"],
                     method.out_channels, method.out_kernel, config["regulariser"])


@torch.no_grad()
def enhance(model: nn.Module, method: Method, spectral: Spectral,
            noisy: torch.Tensor) -> torch.Tensor:
    """(B, T) noisy waveforms -> (B, T) enhanced waveforms (model in eval mode)."""
    spec = spectral.stft(noisy)
    logits = model(spectral.feature_of(spec.abs())).float()
    return spectral.istft(method.mask(logits) * spec, noisy.shape[-1])
