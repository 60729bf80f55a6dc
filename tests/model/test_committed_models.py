"""The weights committed in saved_models/: what their cards promise, measured again.

These run the real models on the real MNIST test set (a few seconds each on a CPU).
"""

from __future__ import annotations

import pytest

from model.card import read_card
from model.checkpoint import card_path, weights_path
from model.data import Mnist
from model.nets import ARCHITECTURES, build
from model.pipeline import evaluate_saved
from model.predictor import Predictor, available_models
from model.robustness import canvas_accuracy, drawn_digit_accuracy, idempotence, non_digit_flagged
from settings import DEFAULT_ARCHITECTURE, REPO_ROOT

MODELS_DIR = REPO_ROOT / "saved_models"
# The floors for the final-epoch test accuracy of each committed model.
REQUIRED_ACCURACY = {"resnet": 0.996, "cnn": 0.992, "lenet5": 0.991, "mlp": 0.985}


def test_every_architecture_has_committed_weights() -> None:
    assert set(available_models(MODELS_DIR)) >= set(REQUIRED_ACCURACY)
    assert DEFAULT_ARCHITECTURE in available_models(MODELS_DIR)


@pytest.fixture(scope="module")
def default_predictor() -> Predictor:
    return Predictor.load(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE))


@pytest.mark.parametrize("name", sorted(REQUIRED_ACCURACY))
def test_committed_model_matches_its_card(name: str, mnist: Mnist) -> None:
    weights = weights_path(MODELS_DIR, name)
    assert weights.stat().st_size <= 5 * 1024 * 1024
    metrics, card = evaluate_saved(weights, mnist)
    assert abs(metrics.accuracy - card.test_accuracy) <= 0.0005
    assert card.test_accuracy >= REQUIRED_ACCURACY[name]
    assert card.command.startswith("python run_model.py")
    assert card.data_checksums and card.git_commit


@pytest.mark.parametrize("name", sorted(REQUIRED_ACCURACY))
def test_registry_names_the_layers_and_cut_each_saved_card_was_fitted_with(name: str) -> None:
    """New detectors read the layers the committed ones were fitted on, at the same cut."""
    card = read_card(card_path(weights_path(MODELS_DIR, name)))
    net = build(card.architecture, card.config.width)
    assert ARCHITECTURES[card.architecture].feature_layers(net) == card.novelty.layers
    assert card.unsure_threshold == ARCHITECTURES[card.architecture].unsure_below
    assert f"{card.unsure_threshold * 100:g}%" in card.unsure_report.threshold_chosen_on


def test_default_model_is_calibrated_and_rarely_unsure(default_predictor, mnist: Mnist) -> None:
    metrics, _ = evaluate_saved(weights_path(MODELS_DIR, DEFAULT_ARCHITECTURE), mnist)
    assert metrics.ece_after <= 0.01
    assert metrics.unsure_share <= 0.02
    assert metrics.accuracy_when_sure > metrics.accuracy


def test_synthetic_canvases_through_the_pipeline(default_predictor, mnist: Mnist) -> None:
    """>= 99 % on 1,800 MNIST test digits redrawn as canvases (naive resizing: far less)."""
    report = canvas_accuracy(default_predictor, mnist.test_images[:1800], mnist.test_labels[:1800])
    assert report.accuracy >= 0.99, report.failures
    assert report.naive_resize_accuracy < report.accuracy - 0.1
    assert min(report.by_kind.values()) >= 0.97, report.by_kind


def test_drawn_stroke_digits_are_recognised(default_predictor) -> None:
    report = drawn_digit_accuracy(default_predictor, per_digit=20)
    assert report.accuracy >= 0.95, report.by_digit


def test_mnist_digits_survive_preprocessing(default_predictor, mnist: Mnist) -> None:
    assert idempotence(default_predictor, mnist.test_images) >= 0.995


def test_non_digits_are_mostly_flagged_unsure(default_predictor) -> None:
    report = non_digit_flagged(default_predictor, n=390)
    assert report.flagged >= 0.90, report.by_kind
