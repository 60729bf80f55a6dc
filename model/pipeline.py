"""Train, calibrate, evaluate, save, draw: what `python run_model.py` does, end to end.

The order matters for honesty: the temperature, the unsure threshold and the
novelty threshold are fitted on the validation split (the novelty detector's class
statistics on the training split), and the test set is only used to report.
"""

from __future__ import annotations

import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from model import handwriting, plots, robustness
from model.calibration import choose_unsure_threshold, fit_temperature, softmax
from model.card import git_commit, write_card
from model.checkpoint import card_path, load_checkpoint, save_checkpoint
from model.data import Mnist, load_mnist, resolve_data_dir
from model.distributed import is_rank_zero, rank_and_world_size, rank_zero_first
from model.evaluate import evaluate_logits
from model.nets import ARCHITECTURES, count_parameters
from model.novelty import (
    FEATURE_LAYERS,
    UNSURE_VALIDATION_SHARE,
    FeatureTap,
    NoveltyDetector,
    detector_path,
    logits_and_features,
)
from model.predictor import Predictor
from model.train import TrainConfig, predict_logits, train

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_data(data_dir: Path | None, cache_dir: Path) -> Mnist:
    with rank_zero_first():  # one download into the cache, not one per process
        return load_mnist(resolve_data_dir(data_dir, cache_dir))


def train_and_save(
    config: TrainConfig,
    mnist: Mnist,
    out_dir: Path,
    results_dir: Path,
    command: str,
    name: str | None = None,
    progress: bool = True,
) -> dict | None:
    """Run the whole recipe for `config`; return the card that was written.

    Under torchrun every rank trains; rank 0 alone then calibrates, evaluates and
    writes (one set of outputs), and the other ranks return None.
    """
    name = name or config.arch
    train_x, train_y, val_x, val_y = mnist.split()
    with rank_zero_first():  # drawn once into the cache, not once per process
        train_x, train_y = with_style_digits(
            train_x[: config.limit], train_y[: config.limit], config
        )
    result = train(
        replace(config, limit=None), train_x, train_y, val_x, val_y,
        progress=progress and is_rank_zero(),
    )  # fmt: skip
    if not is_rank_zero():
        return None

    val_logits = predict_logits(result.net, val_x)
    cal_x, cal_y = calibration_split(mnist)
    cal_logits = predict_logits(result.net, cal_x)
    temperature = fit_temperature(cal_logits, torch.from_numpy(cal_y.astype(np.int64)))
    threshold = choose_unsure_threshold(softmax(cal_logits.numpy(), temperature))
    validation = evaluate_logits(val_logits.numpy(), val_y, temperature, threshold)

    test_logits = predict_logits(result.net, mnist.test_images).numpy()
    test = evaluate_logits(test_logits, mnist.test_labels, temperature, threshold)

    card = {
        "card_format": 1,
        "name": name,
        "architecture": config.arch,
        "description": ARCHITECTURES[config.arch][1],
        "parameters": count_parameters(result.net),
        "epochs": config.epochs,
        "seed": config.seed,
        "config": config.as_dict(),
        "device": str(result.device),
        "device_name": _device_name(result.device),
        "training_seconds": round(result.seconds, 1),
        **_world_size_entry(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "train_images": len(train_y),
        "val_accuracy": validation["accuracy"],
        "test_accuracy": test["accuracy"],
        "per_digit_test_accuracy": test["per_digit_accuracy"],
        "calibration": {
            "method": "temperature scaling fitted on the validation split and held-in "
            "people's style digits",
            "temperature": temperature,
            "ece_bins": 15,
            "ece_before": test["ece_before"],
            "ece_after": test["ece_after"],
        },
        "unsure_threshold": threshold,
        "unsure_report": {
            "rule": "unsure when the calibrated confidence is below unsure_threshold",
            "threshold_chosen_on": CALIBRATION_SET,
            "mnist_test_flagged": test["unsure_share"],
            "mnist_test_accuracy_when_sure": test["accuracy_when_sure"],
            "mnist_test_errors_flagged": test["errors_flagged_unsure"],
        },
        "test_confusion_matrix": test["confusion_matrix"],
        "history": result.history,
        "data_checksums": mnist.checksums,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "git_commit": git_commit(REPO_ROOT),
        "command": command,
    }
    weights = Path(out_dir) / f"{name}.pt"
    card = save_checkpoint(result.net, card, weights)
    card = complete_card(weights, mnist)
    draw_results(card, mnist, softmax(test_logits, temperature), Path(results_dir))
    return card


CALIBRATION_SET = "validation split and held-in people's style digits"
# Held-in style digits (other drawings by training people) beside MNIST's validation
# split when fitting the temperature and both unsure thresholds.
CALIBRATION_STYLE_DIGITS = 2000


def with_style_digits(
    images: np.ndarray, labels: np.ndarray, config: TrainConfig | float
) -> tuple[np.ndarray, np.ndarray]:
    """The training split with training people's style digits added: `style_share` of it."""
    share = config if isinstance(config, float | int) else config.style_share
    count = round(share * len(labels))
    if count == 0:
        return images, labels
    style = handwriting.training_digits(count, handwriting.default_cache_dir())
    return np.concatenate([images, style.images]), np.concatenate([labels, style.labels])


def calibration_split(mnist: Mnist) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's validation split and held-in style digits (training people, other drawings)."""
    _, _, val_x, val_y = mnist.split()
    style = handwriting.training_digits(
        CALIBRATION_STYLE_DIGITS, handwriting.default_cache_dir(), seed=1
    )
    return np.concatenate([val_x, style.images]), np.concatenate([val_y, style.labels])


def complete_card(weights: Path, mnist: Mnist) -> dict:
    """Fit the novelty detector, then measure beyond MNIST's test set; the final card.

    Training ends with this, and `run_model.py evaluate --update-card` runs the same
    for models saved before it existed, so both give a model the same card.
    """
    fit_novelty(weights, mnist)
    return add_robustness_report(weights, mnist)


def fit_novelty(weights: Path, mnist: Mnist) -> dict:
    """Fit `weights`' novelty detector, save it beside them, report unsure anew.

    Class statistics come from the training split, the threshold from the validation
    split (see `model.novelty`); the weights are untouched, so their SHA-256 holds.
    The card's unsure report is then measured again on the test set, with both tests.
    """
    net, card = load_checkpoint(weights)
    train_x, train_y, _, _ = mnist.split()
    style_share = card.get("config", {}).get("style_share", 0.0)
    train_x, train_y = with_style_digits(train_x, train_y, style_share)
    tap = FeatureTap(net, FEATURE_LAYERS[card["architecture"]])
    _, train_features = logits_and_features(net, tap, train_x)
    detector = NoveltyDetector.fit(train_features, train_y)
    val_logits, val_features = logits_and_features(net, tap, calibration_split(mnist)[0])
    confident = softmax(val_logits, card["calibration"]["temperature"]).max(axis=1)
    detector = detector.with_threshold(
        detector.distances(val_features), confident < card["unsure_threshold"]
    )
    path = detector_path(weights)
    card["novelty"] = {
        "method": "Mahalanobis distance to the nearest class mean, shared covariance",
        "file": path.name,
        "sha256": detector.save(path),
        "threshold": detector.threshold,
        "layers": list(tap.layers),
        "dimensions": int(train_features.shape[1]),
        "fitted_on": "training split and training people's style digits",
        "threshold_chosen_on": CALIBRATION_SET,
        "validation_unsure_share": UNSURE_VALIDATION_SHARE,
    }
    write_card(card_path(weights), card)
    test, card = evaluate_saved(weights, mnist)
    card["unsure_report"] = {
        **card["unsure_report"],
        "rule": "unsure when the calibrated confidence is below unsure_threshold or the "
        "features are farther than novelty.threshold from every digit class",
        "mnist_test_flagged": test["unsure_share"],
        "mnist_test_accuracy_when_sure": test["accuracy_when_sure"],
        "mnist_test_errors_flagged": test["errors_flagged_unsure"],
    }
    write_card(card_path(weights), card)
    return card


def add_robustness_report(weights: Path, mnist: Mnist, n_canvases: int = 2000) -> dict:
    """Measure the saved model on drawings and non-digits; record it in its card.

    The weights are untouched (their SHA-256 stays valid); only the card gains the
    figures README quotes, measured by the same functions the tests and benchmarks use.
    """
    predictor = Predictor.load(weights)
    canvas = robustness.canvas_accuracy(
        predictor, mnist.test_images[:n_canvases], mnist.test_labels[:n_canvases]
    )
    shapes = robustness.non_digit_flagged(predictor, n=1300)
    drawn = robustness.drawn_digit_accuracy(predictor, per_digit=30)
    card = dict(predictor.card)
    card["unsure_report"] = {**card["unsure_report"], "non_digits_flagged": shapes["flagged"]}
    card["robustness"] = {
        "synthetic_canvases": canvas["n"],
        "synthetic_canvas_accuracy": canvas["accuracy"],
        "synthetic_canvas_unsure": canvas["unsure_share"],
        "naive_resize_accuracy": canvas["naive_resize_accuracy"],
        "synthetic_canvas_accuracy_by_kind": canvas["by_kind"],
        "drawn_digits": drawn["n"],
        "drawn_digit_accuracy": drawn["accuracy"],
        "drawn_digit_unsure": drawn["unsure_share"],
        "non_digits": shapes["n"],
        "non_digits_flagged_by_kind": shapes["by_kind"],
        "mnist_unchanged_by_preprocessing": robustness.idempotence(predictor, mnist.test_images),
    }
    card["style_proxy"] = robustness.style_proxy(predictor, robustness.proxy_digits())
    held_out_styles = robustness.proxy_digits("held-out styles")
    card["style_proxy_held_out_styles"] = robustness.style_proxy(predictor, held_out_styles)
    write_card(card_path(weights), card)
    return card


def draw_results(card: dict, mnist: Mnist, test_probs: np.ndarray, results_dir: Path) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    label = f"{card['name']} ({card['architecture']}): test accuracy {card['test_accuracy']:.2%}"
    plots.plot_test_predictions(
        mnist.test_images, mnist.test_labels, test_probs, results_dir / "test_predictions.png"
    )
    plots.plot_confusion_matrix(
        np.array(card["test_confusion_matrix"]), results_dir / "confusion_matrix.png", label
    )
    plots.plot_training_curves(card["history"], results_dir / "training_curves.png", label)


def evaluate_saved(weights: Path, mnist: Mnist) -> tuple[dict, dict]:
    """Re-measure a saved model on the test set, as the app would use it: (metrics, card)."""
    predictor = Predictor.load(weights)
    return evaluate_predictor(predictor, mnist), dict(predictor.card)


def evaluate_predictor(predictor: Predictor, mnist: Mnist) -> dict:
    """Test-set metrics of a loaded model, unsure by confidence and novelty alike."""
    scores = predictor.score_batch(mnist.test_images)
    return evaluate_logits(
        scores.logits,
        mnist.test_labels,
        predictor.temperature,
        predictor.unsure_threshold,
        novel=scores.novel,
    )


def _world_size_entry() -> dict:
    """`{"world_size": N}` for a run on N > 1 processes; nothing for a one-process run."""
    world_size = rank_and_world_size()[1]
    return {"world_size": world_size} if world_size > 1 else {}


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
