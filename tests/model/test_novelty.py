"""The novelty detector: fit, threshold, storage, per-thread features, and on a real model."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from model.calibration import UNSURE_BELOW
from model.card import Calibration, ModelCard, read_card, sha256_file
from model.checkpoint import ModelLoadError, card_path, save_checkpoint
from model.config import TrainConfig
from model.data import Mnist
from model.features import FeatureTap
from model.nets import ARCHITECTURES, architecture, build
from model.novelty import NoveltyDetector, detector_path
from model.pipeline import complete_card
from model.predictor import Predictor
from model.robustness import non_digit_flagged
from model.train import train


def clusters(
    rng: np.random.Generator, n_per_class: int, shape_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Ten well separated Gaussian clusters in 6 dimensions with correlated noise.

    `shape_seed` fixes the centres and the noise's shape; `rng` draws the points.
    """
    shape = np.random.default_rng(shape_seed)
    centres, mixing = shape.normal(0, 10, size=(10, 6)), shape.normal(size=(6, 6))
    labels = np.repeat(np.arange(10), n_per_class)
    return centres[labels] + rng.normal(size=(len(labels), 6)) @ mixing, labels


def test_threshold_flags_the_validation_budget_and_far_points() -> None:
    train_x, train_y = clusters(np.random.default_rng(1), 500)
    detector = NoveltyDetector.fit(train_x, train_y)
    val_x, _ = clusters(np.random.default_rng(2), 300)
    already = np.zeros(len(val_x), dtype=bool)
    already[:20] = True  # what the confidence test flags
    fitted = detector.with_threshold(detector.distances(val_x), already, total_share=0.05)
    assert (fitted.is_novel(val_x) | already).sum() == round(0.05 * len(val_x))
    assert fitted.is_novel(val_x[20:]).sum() == round(0.05 * len(val_x)) - 20
    assert fitted.is_novel(val_x + 50.0).all()
    # Fresh points of the same clusters are mostly near: chi-square with 6 dof, mean 6.
    assert 4 < np.median(fitted.distances(val_x)) < 8


def test_no_novelty_flags_when_the_confidence_test_already_flags_enough() -> None:
    train_x, train_y = clusters(np.random.default_rng(3), 100)
    detector = NoveltyDetector.fit(train_x, train_y)
    distances = detector.distances(train_x)
    fitted = detector.with_threshold(distances, np.ones(len(distances), dtype=bool))
    assert not fitted.is_novel(train_x).any()


def test_non_digit_threshold_is_the_loosest_that_flags_the_share() -> None:
    train_x, train_y = clusters(np.random.default_rng(1), 500)
    detector = NoveltyDetector.fit(train_x, train_y)
    digits, _ = clusters(np.random.default_rng(2), 300)
    shapes = np.random.default_rng(4).normal(0, 40, size=(200, 6))  # far from most clusters
    already = np.zeros(len(shapes), dtype=bool)
    already[:30] = True  # what the confidence test flags
    fitted = detector.for_non_digits(detector.distances(shapes), already, dropped=10, share=0.9)
    flagged = int((fitted.is_novel(shapes) | already).sum()) + 10
    assert flagged == int(np.ceil(0.9 * 210))
    # The loosest: one step closer would have flagged one non-digit more than needed.
    others = np.sort(detector.distances(shapes[30:]))[::-1]
    assert fitted.threshold == others[flagged - 10 - 30]
    assert fitted.is_novel(digits).mean() < 0.01  # fresh digits of the clusters stay near


def test_no_novelty_threshold_when_confidence_flags_enough_non_digits() -> None:
    train_x, train_y = clusters(np.random.default_rng(3), 100)
    detector = NoveltyDetector.fit(train_x, train_y)
    shapes = np.random.default_rng(5).normal(0, 40, size=(50, 6))
    fitted = detector.for_non_digits(detector.distances(shapes), np.ones(50, dtype=bool))
    assert not fitted.is_novel(shapes).any()


def test_saved_detector_loads_without_pickle_and_gives_the_same_distances(tmp_path: Path) -> None:
    train_x, train_y = clusters(np.random.default_rng(3), 100)
    detector = NoveltyDetector.fit(train_x, train_y)
    sha = detector.save(tmp_path / "d.npz")
    assert sha == sha256_file(tmp_path / "d.npz")
    loaded = NoveltyDetector.load(tmp_path / "d.npz", threshold=12.5)
    np.testing.assert_allclose(loaded.distances(train_x), detector.distances(train_x))
    assert loaded.threshold == 12.5


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_architecture_has_its_feature_layers(arch: str) -> None:
    net = build(arch).eval()
    tap = FeatureTap(net, ARCHITECTURES[arch].feature_layers(net))
    with torch.inference_mode():
        net(torch.rand(3, 1, 28, 28))
    features = tap.features()
    assert features.shape[0] == 3 and features.ndim == 2 and features.shape[1] >= 64


def test_feature_tap_keeps_each_threads_own_features() -> None:
    """Streamlit sessions share one network: one thread must never read another's features."""
    net = build("lenet5").eval()
    tap = FeatureTap(net, ARCHITECTURES["lenet5"].feature_layers(net))
    inputs = [torch.zeros(1, 1, 28, 28), torch.ones(1, 1, 28, 28)]
    expected = []
    for x in inputs:
        with torch.inference_mode():
            net(x)
        expected.append(tap.features().clone())
    both_ran = threading.Barrier(2)
    seen: dict[int, torch.Tensor] = {}

    def work(i: int) -> None:
        with torch.inference_mode():
            net(inputs[i])
        both_ran.wait()  # the other thread's forward pass ran after ours
        seen[i] = tap.features()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        torch.testing.assert_close(seen[i], expected[i])


@pytest.fixture(scope="module")
def small_model(tmp_path_factory, mnist: Mnist) -> Path:
    """A real LeNet-5 after three epochs on 12,000 digits, saved without a novelty detector."""
    folder = tmp_path_factory.mktemp("novelty_models")
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch("lenet5", epochs=3, batch_size=64, device="cpu")
    result = train(config, x[:12000], y[:12000], x[-500:], y[-500:], progress=False)
    card = ModelCard(
        name="small",
        architecture="lenet5",
        calibration=Calibration(1.0),
        unsure_threshold=UNSURE_BELOW,
    )
    save_checkpoint(result.net, card, folder / "small.pt")
    return folder / "small.pt"


@pytest.fixture(scope="module")
def fitted(small_model: Path, mnist: Mnist) -> tuple[float, ModelCard]:
    """(non-digits flagged before, the card after) `--update-card` fitted its detector."""
    before = non_digit_flagged(Predictor.load(small_model), n=260).flagged
    return before, complete_card(small_model, mnist)


def copy_model(weights: Path, folder: Path) -> Path:
    for path in (weights, card_path(weights), detector_path(weights)):
        shutil.copy(path, folder / path.name)
    return folder / weights.name


def test_fitted_novelty_flags_non_digits_the_confidence_test_misses(
    small_model: Path, fitted: tuple[float, ModelCard], mnist: Mnist
) -> None:
    without, card = fitted
    assert card.novelty.sha256 == read_card(card_path(small_model)).novelty.sha256
    assert card.unsure_threshold == architecture("lenet5").unsure_below  # today's cut
    predictor = Predictor.load(small_model)
    assert predictor.novelty is not None
    with_novelty = non_digit_flagged(predictor, n=260).flagged
    assert with_novelty > without + 0.1, (without, with_novelty)
    # Digits mostly pass: the calibration budget is 1.8 %, the test set lands near it.
    scores = predictor.score_batch(mnist.test_images[:500])
    confident = scores.probabilities.max(axis=1) >= card.unsure_threshold
    assert scores.novel[confident].mean() < 0.05
    assert (scores.unsure >= scores.novel).all()


def test_a_missing_or_altered_detector_is_a_clear_error(
    small_model: Path, fitted: tuple[float, ModelCard], tmp_path: Path
) -> None:
    weights = copy_model(small_model, tmp_path)
    detector = detector_path(weights)
    detector.write_bytes(detector.read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match=r"does not match its card.*--update-card"):
        Predictor.load(weights)
    detector.unlink()
    with pytest.raises(ModelLoadError, match=r"novelty detector .* not found"):
        Predictor.load(weights)
