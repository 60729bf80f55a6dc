"""Every registered architecture: shapes, size, and the registry's error message."""

from __future__ import annotations

import pytest
import torch

from model.nets import ARCHITECTURES, build, count_parameters

# Documented ranges (README, "Models"): a change of architecture must be deliberate.
PARAMETER_RANGES = {
    "cnn": (1_199_882, 1_199_882),  # the seed network, exactly
    "mlp": (669_706, 669_706),  # 784*512 + 512*512 + 512*10 + biases
    "lenet5": (55_000, 70_000),
    "resnet": (200_000, 600_000),  # at its default width
}


def test_registry_is_documented() -> None:
    assert set(ARCHITECTURES) == set(PARAMETER_RANGES)


@pytest.mark.parametrize("arch", sorted(PARAMETER_RANGES))
def test_output_shape_and_parameter_count(arch: str) -> None:
    net = build(arch, ARCHITECTURES[arch].width).eval()
    with torch.inference_mode():
        logits = net(torch.rand(5, 1, 28, 28))
    assert logits.shape == (5, 10)
    assert torch.isfinite(logits).all()
    low, high = PARAMETER_RANGES[arch]
    assert low <= count_parameters(net) <= high


@pytest.mark.parametrize("arch", sorted(PARAMETER_RANGES))
def test_batch_of_one_in_eval_mode(arch: str) -> None:
    """BatchNorm must use running statistics at inference: one image is a valid batch."""
    net = build(arch).eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        together = net(x)
        alone = torch.cat([net(x[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)


def test_width_scales_the_resnets_channels_and_the_others_have_one() -> None:
    full, slim = build("resnet", 1.0), build("resnet", 0.75)
    assert [m.out_channels for m in slim.modules() if isinstance(m, torch.nn.Conv2d)][:3] == [
        24,
        48,
        48,
    ]
    assert count_parameters(slim) < 0.6 * count_parameters(full)  # channels squared
    with pytest.raises(ValueError, match=r"LeNet5 has one width; width must be 1, got 0\.5"):
        build("lenet5", 0.5)


def test_unknown_architecture_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown architecture 'vgg'; choose one of: cnn, lenet5"):
        build("vgg")
