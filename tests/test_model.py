import pytest
import torch
from torch import nn

from methods import METHODS
from model import ClipNorm, FrequencyNorm, build_cnn, conv_depth, for_inference, inference_network


@pytest.mark.parametrize("blocks, fcblocks", [(0, 0), (2, 0), (2, 1), (3, 0), (4, 1), (4, 4)])
def test_depth_and_kernels(blocks, fcblocks):
    model = build_cnn(blocks, fcblocks, 4, 0.2, 1, 1, "dropout")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert conv_depth(model) == 3 + 2 * blocks
    hidden = convs[:-1]
    assert sum(c.kernel_size == (1, 1) for c in hidden) == 2 * fcblocks
    assert convs[-1].in_channels == 4 * 2 ** blocks


def test_fcblocks_beyond_blocks_is_refused():
    with pytest.raises(ValueError, match="fcblocks"):
        build_cnn(2, 3, 4, 0.2, 1, 1, "dropout")


@pytest.mark.parametrize("name, channels, kernel, regulariser", [
    ("PU", 1, 1, nn.BatchNorm2d), ("PN", 1, 3, nn.BatchNorm2d), ("MixIT", 3, 3, nn.Dropout2d)])
def test_method_networks(name, channels, kernel, regulariser):
    method = METHODS[name]
    model = build_cnn(2, 0, 4, 0.2, method.out_channels, method.out_kernel,
                      method.regulariser["pulse"])
    out = model(torch.randn(2, 1, 33, 17))
    assert out.shape == (2, channels, 33, 17)
    assert model[-1].kernel_size == (kernel, kernel)
    assert any(isinstance(m, regulariser) for m in model.modules())
    mask = method.mask(out)
    assert mask.shape == (2, 33, 17) and mask.min() >= 0 and mask.max() <= 1


def _trained_looking(model: nn.Module) -> nn.Module:
    """``model`` with BatchNorm statistics and affine parameters away from their defaults."""
    torch.manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.2, 3)
                m.weight.uniform_(-2, 2)
                m.bias.uniform_(-1, 1)
    return model.eval()


@pytest.mark.parametrize("name, fcblocks, input_norm", [
    ("PU", 0, None), ("PU", 1, None), ("PN", 0, None), ("MixIT", 0, None), ("PU", 0, "frequency"),
    ("PU", 0, "clip")])
@pytest.mark.parametrize("bins, frames", [(33, 17), (1, 5), (2, 2), (7, 1)])
def test_inference_network_computes_the_same_function(name, fcblocks, input_norm, bins, frames):
    method = METHODS[name]
    model = _trained_looking(build_cnn(2, fcblocks, 4, 0.2, method.out_channels,
                                       method.out_kernel, method.regulariser,
                                       {None: None, "clip": ClipNorm(),
                                        "frequency": FrequencyNorm(bins)}[input_norm]))
    folded = inference_network(model)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.Dropout2d)) for m in folded.modules())
    assert all(m.inplace for m in folded.modules() if isinstance(m, nn.ReLU))
    assert conv_depth(folded) == conv_depth(model)
    x = torch.randn(3, 1, bins, frames)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)


def test_inference_copy_leaves_the_trained_model_alone():
    model = _trained_looking(build_cnn(2, 0, 4, 0.2, 1, 1, "batchnorm")).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    inference = for_inference(model, torch.device("cpu"))
    assert model.training and not inference.training
    assert model[0].weight.is_contiguous()
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    x = torch.randn(2, 1, 33, 17)
    with torch.no_grad():
        torch.testing.assert_close(inference(x), model.eval()(x), rtol=1e-5, atol=1e-5)


def test_inference_network_keeps_what_it_cannot_fold_and_the_input():
    model = _trained_looking(nn.Sequential(nn.ReLU(), nn.Conv2d(1, 2, 3, padding=1),
                                           nn.BatchNorm2d(2), nn.ReLU(), nn.BatchNorm2d(2)))
    folded = inference_network(model)
    assert [type(m) for m in folded] == [nn.ReLU, nn.Conv2d, nn.BatchNorm2d, nn.ReLU,
                                         nn.BatchNorm2d]
    x = torch.randn(2, 1, 9, 5)
    x_before = x.clone()
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x))
    assert torch.equal(x, x_before)


def test_frequency_norm_standardises_each_bin_and_keeps_frames_apart_in_eval():
    """Training: every bin has zero mean and unit variance over clips and frames, whatever
    its level (up to BatchNorm's eps). Eval: running statistics, so a frame's output does
    not depend on the others."""
    levels = torch.logspace(-1, 1, 9).view(1, 1, 9, 1)
    x = torch.rand(4, 1, 9, 50) * levels + levels
    norm = FrequencyNorm(9).train()
    y = norm(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y.mean((0, 1, 3)), torch.zeros(9), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var((0, 1, 3), unbiased=False), torch.ones(9), atol=0.02, rtol=0)
    norm.eval()
    with torch.no_grad():
        torch.testing.assert_close(norm(x)[..., :7], norm(x[..., :7]))


def test_input_norm_is_the_first_layer_and_adds_no_convolution():
    plain = build_cnn(2, 0, 4, 0.2, 1, 1, "batchnorm")
    normed = build_cnn(2, 0, 4, 0.2, 1, 1, "batchnorm", FrequencyNorm(33))
    assert isinstance(normed[0], FrequencyNorm) and normed[0].norm.num_features == 33
    assert conv_depth(normed) == conv_depth(plain) and len(normed) == len(plain) + 1


def test_clip_norm_uses_each_clips_own_statistics():
    """Each clip's bins come out at zero mean, unit variance over its frames, in training
    and eval mode alike; a clip's output does not depend on the rest of the batch."""
    x = torch.randn(3, 1, 9, 40) * torch.linspace(0.5, 5, 9)[:, None] + 2
    norm = ClipNorm()
    y = norm(x)
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 1, 9), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(3, 1, 9), atol=1e-3,
                               rtol=0)
    torch.testing.assert_close(norm.eval()(x[1:2]), y[1:2])
    assert not list(norm.parameters()) and not list(norm.buffers())
