"""The training loop learns, is deterministic, and its augmentation stays in range."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import torch

from model import augment
from model.config import TrainConfig
from model.data import Mnist
from model.device import pick_device
from model.nets import ARCHITECTURES
from model.train import predict_logits, train
from settings import DEFAULT_ARCHITECTURE


def small_run(mnist: Mnist, arch: str, seed: int = 0, n: int = 2000):
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch(arch, epochs=1, batch_size=32, seed=seed, device="cpu")
    return train(config, x[:n], y[:n], x[-1000:], y[-1000:], progress=False)


def test_one_epoch_on_2000_images_learns(mnist: Mnist) -> None:
    """Real learning: >= 80 % on 1,000 images it never saw, after seconds on a CPU."""
    for arch in ("cnn", "resnet"):
        result = small_run(mnist, arch)
        held_out = predict_logits(result.net, mnist.train_images[-1000:]).argmax(1).numpy()
        accuracy = (held_out == mnist.train_labels[-1000:]).mean()
        assert accuracy >= 0.80, f"{arch}: {accuracy:.1%}"
        assert result.history[0].val_accuracy == accuracy


def test_same_seed_same_weights_other_seed_other_weights(mnist: Mnist) -> None:
    first = small_run(mnist, "lenet5", seed=3, n=600).net.state_dict()
    second = small_run(mnist, "lenet5", seed=3, n=600).net.state_dict()
    third = small_run(mnist, "lenet5", seed=4, n=600).net.state_dict()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0, atol=0)
    assert any(not torch.equal(first[k], third[k]) for k in first if first[k].is_floating_point())


def test_limit_trains_on_the_first_images_only(mnist: Mnist) -> None:
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch("mlp", epochs=1, limit=256, device="cpu")
    result = train(config, x, y, x[-100:], y[-100:], progress=False)
    assert result.history[0].images == 256


def test_step_hook_sees_every_nth_step_stays_off_the_clock_and_can_stop(mnist: Mnist) -> None:
    """The benchmark's hook: called on schedule, its time not counted, True stops at once."""
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch("mlp", epochs=2, batch_size=32, limit=320, device="cpu")
    calls: list[tuple[int, float]] = []

    def hook(net: torch.nn.Module, step: int, seconds: float) -> bool:
        calls.append((step, seconds))
        time.sleep(0.2)  # an "evaluation" far slower than the training steps
        return step == 15

    started = time.perf_counter()
    result = train(config, x, y, x[-100:], y[-100:], progress=False, hook=hook, hook_every=3)
    wall = time.perf_counter() - started
    assert [step for step, _ in calls] == [3, 6, 9, 12, 15]
    assert result.stopped_early and len(result.history) == 1
    assert all(a < b for (_, a), (_, b) in itertools.pairwise(calls))
    sleeps = 0.2 * len(calls)
    assert result.seconds <= wall - sleeps  # the sleeps are not in the training time
    assert result.history[0].seconds <= wall - sleeps  # nor in the epoch's


def test_augmentation_keeps_shape_range_and_most_ink(mnist: Mnist) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.from_numpy(mnist.test_images[:256].astype(np.float32) / 255).unsqueeze(1)
    out = augment.augment(x, gen)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    ratio = out.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert 0.5 < ratio.median() < 1.5  # moved and reshaped, not erased or smeared
    assert not torch.allclose(out, x)


def _ink_widths(x: torch.Tensor) -> torch.Tensor:
    """Width in pixels of each image's inked columns (ink above half strength)."""
    columns = (x > 0.5).any(dim=2).squeeze(1)  # (N, W)
    index = torch.arange(x.shape[-1]).expand_as(columns)
    right = torch.where(columns, index, -1).max(dim=1).values
    left = torch.where(columns, index, x.shape[-1]).min(dim=1).values
    return (right - left + 1).float()


def test_stretch_widens_and_narrows_digits_and_is_off_at_one(mnist: Mnist) -> None:
    x = torch.from_numpy(mnist.test_images[:512].astype(np.float32) / 255).unsqueeze(1)
    plain = augment.random_affine(x, torch.Generator().manual_seed(3))
    same = augment.random_affine(x, torch.Generator().manual_seed(3), stretch=1.0)
    assert torch.equal(plain, same)  # off: no random number drawn, older recipes replay
    stretched = augment.random_affine(x, torch.Generator().manual_seed(3), stretch=1.4)
    wide = _ink_widths(plain) >= 8  # a pixel of rounding is small beside these
    ratio = _ink_widths(stretched)[wide] / _ink_widths(plain)[wide]
    assert (ratio > 1.15).float().mean() > 0.2 and (ratio < 0.87).float().mean() > 0.2
    assert ratio.min() > 0.6 and ratio.max() < 1.6  # within [1/1.4, 1.4], give or take a pixel


def test_scribbles_look_like_strokes() -> None:
    ink = augment.random_scribbles(64, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert ink.shape == (64, 1, 28, 28) and ink.min() >= 0 and ink.max() <= 1
    coverage = (ink > 0.5).float().mean(dim=(1, 2, 3))
    # Strokes, like MNIST digits (~19 % of pixels inked), not blank and not a filled square.
    assert (coverage > 0.03).all() and (coverage < 0.6).all()


def test_device_choice() -> None:
    assert pick_device("cpu").type == "cpu"
    has_mps = torch.backends.mps.is_available()
    best = "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    assert pick_device("auto").type == best
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="--device cuda: CUDA is not available"):
            pick_device("cuda")


def test_recipes_set_a_starting_point_that_the_command_line_overrides() -> None:
    fast = TrainConfig.for_recipe("fast", device="cpu")
    assert (fast.arch, fast.epochs, fast.batch_size, fast.augment) == ("lenet5", 4, 256, False)
    assert TrainConfig.for_recipe("default", device="cpu") == TrainConfig.for_arch(
        DEFAULT_ARCHITECTURE, device="cpu"
    )
    mine = TrainConfig.for_recipe("fast", "mlp", epochs=1, augment=None, device="cpu")
    assert (mine.arch, mine.epochs, mine.batch_size, mine.augment) == ("mlp", 1, 256, False)
    with pytest.raises(ValueError, match="unknown recipe 'fastest'; choose one of: default, fast"):
        TrainConfig.for_recipe("fastest")


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_each_architecture_trains_on_its_own_share_of_style_digits(arch: str) -> None:
    """The registry's share is the config's, unless a recipe or the caller says
    otherwise; the fast recipe's LeNet-5 trains on MNIST alone."""
    assert TrainConfig.for_arch(arch, device="cpu").style_share == ARCHITECTURES[arch].style_share
    assert TrainConfig.for_arch(arch, style_share=0.1, device="cpu").style_share == 0.1
    assert TrainConfig.for_recipe("fast", arch, device="cpu").style_share == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_defaults_and_the_fast_recipe_train_on_the_gpu(mnist: Mnist) -> None:
    """On CUDA: bigger batches for the resnet, the fast recipe's resnet variant, learning."""
    assert TrainConfig.for_arch("resnet").batch_size == ARCHITECTURES["resnet"].cuda["batch_size"]
    assert TrainConfig.for_arch("resnet", device="cpu").batch_size == 128
    config = TrainConfig.for_recipe("fast", epochs=2, limit=16384)
    assert (config.arch, config.batch_size) == ("resnet", 1024)
    x, y = mnist.train_images, mnist.train_labels
    result = train(config, x, y, x[-2000:], y[-2000:], progress=False)
    assert result.device.type == "cuda"
    assert result.history[0].val_accuracy >= 0.9
