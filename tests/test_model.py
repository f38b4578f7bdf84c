import pytest
import torch
from torch import nn

from methods import METHODS
from model import build_cnn, conv_depth


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
    model = build_cnn(2, 0, 4, 0.2, method.out_channels, method.out_kernel, method.regulariser)
    out = model(torch.randn(2, 1, 33, 17))
    assert out.shape == (2, channels, 33, 17)
    assert model[-1].kernel_size == (kernel, kernel)
    assert any(isinstance(m, regulariser) for m in model.modules())
    mask = method.mask(out)
    assert mask.shape == (2, 33, 17) and mask.min() >= 0 and mask.max() <= 1
