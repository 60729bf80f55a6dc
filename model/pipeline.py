"""Train, calibrate, measure, save, draw: what `python run_model.py` does, end to end.

The order matters for honesty: the temperature is fitted on the validation split
and held-in style digits, the novelty threshold on fitting non-digits drawn apart
from the reported ones (the detector's class statistics on the training split); the
test set, the proxy people and the reported non-digits only report. The trained network
stays in memory throughout; weights, detector and card are written at the end, the
card last, so a model is complete on disk or not offered at all.
"""

from __future__ import annotations

import functools
import hashlib
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model import handwriting, plots, robustness
from model.calibration import ECE_BINS, fit_temperature, softmax
from model.card import (
    Calibration,
    EpochRecord,
    ModelCard,
    NoveltyEntry,
    RobustnessReport,
    UnsureReport,
    git_commit,
    write_card,
)
from model.checkpoint import card_path, load_checkpoint, save_weights
from model.config import TrainConfig
from model.data import Mnist, load_mnist, resolve_data_dir
from model.distributed import is_rank_zero, rank_and_world_size, rank_zero_first
from model.evaluate import SetMetrics, evaluate_logits
from model.features import FeatureTap, logits_and_features
from model.nets import architecture, count_parameters
from model.novelty import (
    COMBINED_UNSURE_SHARE,
    COMPONENTS_PER_CLASS,
    FITTING_NON_DIGIT_SEED,
    FITTING_NON_DIGITS,
    NON_DIGIT_FLAGGED_SHARE,
    NoveltyDetector,
    detector_path,
    write_detector,
)
from model.predictor import Predictor
from model.preprocess import canvas_to_mnist
from model.synthetic import non_digit_shapes
from model.train import TrainResult, predict_logits, train

REPO_ROOT = Path(__file__).resolve().parent.parent
CALIBRATION_SET = "validation split and held-in people's style digits"
# Held-in style digits (other drawings by training people) beside MNIST's validation
# split when fitting the temperature and the novelty threshold's digit budget.
CALIBRATION_STYLE_DIGITS = 2000
DETECTOR_METHOD = (
    f"Mahalanobis distance to the nearest of {COMPONENTS_PER_CLASS} k-means parts per "
    "class, shared covariance"
)
NOVELTY_THRESHOLD_RULE = (
    f"the looser of: flagging {NON_DIGIT_FLAGGED_SHARE:.0%} of {FITTING_NON_DIGITS} "
    f"fitting non-digits (model.synthetic, seed {FITTING_NON_DIGIT_SEED}); flagging "
    f"{COMBINED_UNSURE_SHARE:.1%} of the {CALIBRATION_SET} (both with confidence)"
)
UNSURE_RULE = (
    "unsure when the calibrated confidence is below unsure_threshold or the "
    "features are farther than novelty.threshold from every digit class"
)


@dataclass(frozen=True)
class Measured:
    """A card completed by `measure`, the detector it names, and the test-set metrics."""

    card: ModelCard
    detector_file: bytes
    test: SetMetrics
    test_probabilities: np.ndarray


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
) -> ModelCard | None:
    """Run the whole recipe for `config`; return the card that was written.

    Under torchrun every rank trains; rank 0 alone then calibrates, measures and
    writes (one set of outputs), and the other ranks return None.
    """
    name = name or config.arch
    train_x, train_y, val_x, val_y = mnist.split()
    with rank_zero_first():  # drawn once into the cache, not once per process
        train_x, train_y = with_style_digits(
            train_x[: config.limit], train_y[: config.limit], config.style_share
        )
    result = train(
        replace(config, limit=None), train_x, train_y, val_x, val_y,
        progress=progress and is_rank_zero(),
    )  # fmt: skip
    if not is_rank_zero():
        return None
    net = result.net.cpu()  # measured as the app runs it
    card = training_card(config, result, net, mnist, name, command)
    measured = measure(net, card, mnist)
    card = with_test_figures(measured.card, measured.test)
    weights = Path(out_dir) / f"{name}.pt"
    card = save_model(net, card, weights, measured.detector_file)
    draw_results(card, result.history, mnist, measured.test_probabilities, Path(results_dir))
    return card


def training_card(
    config: TrainConfig, result: TrainResult, net: nn.Module, mnist: Mnist, name: str, command: str
) -> ModelCard:
    """What training made, calibrated on `CALIBRATION_SET`; measured later."""
    _, _, val_x, val_y = mnist.split()
    val_logits = predict_logits(net, val_x)
    cal_x, cal_y = calibration_split(mnist)
    cal_logits = predict_logits(net, cal_x)
    temperature = fit_temperature(cal_logits, torch.from_numpy(cal_y.astype(np.int64)))
    world_size = rank_and_world_size()[1]
    return ModelCard(
        name=name,
        architecture=config.arch,
        calibration=Calibration(
            temperature, f"temperature scaling fitted on the {CALIBRATION_SET}"
        ),
        unsure_threshold=architecture(config.arch).unsure_below,
        description=architecture(config.arch).description,
        parameters=count_parameters(net),
        epochs=config.epochs,
        seed=config.seed,
        config=config,
        teachers=result.teachers or None,
        device=str(result.device),
        device_name=_device_name(result.device),
        training_seconds=round(result.seconds, 1),
        world_size=world_size if world_size > 1 else None,
        trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        train_images=result.history[0].images if result.history else None,
        val_accuracy=float((val_logits.argmax(1).numpy() == val_y).mean()),
        unsure_report=UnsureReport(threshold_chosen_on=confidence_cut(config.arch)),
        history=tuple(result.history),
        data_checksums=mnist.checksums,
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        git_commit=git_commit(REPO_ROOT),
        command=command,
    )


def with_test_figures(card: ModelCard, test: SetMetrics) -> ModelCard:
    """`card` with the test-set figures a training run reports (its unsure report aside)."""
    return replace(
        card,
        test_accuracy=test.accuracy,
        per_digit_test_accuracy=test.per_digit_accuracy,
        calibration=replace(
            card.calibration,
            ece_bins=ECE_BINS,
            ece_before=test.ece_before,
            ece_after=test.ece_after,
        ),
        test_confusion_matrix=test.confusion_matrix,
    )


def with_test_unsure(report: UnsureReport, arch: str, test: SetMetrics) -> UnsureReport:
    """`report` with the unsure rule, where `arch`'s cut was chosen and what test says."""
    return replace(
        report,
        rule=UNSURE_RULE,
        threshold_chosen_on=confidence_cut(arch),
        mnist_test_flagged=test.unsure_share,
        mnist_test_accuracy_when_sure=test.accuracy_when_sure,
        mnist_test_errors_flagged=test.errors_flagged_unsure,
    )


def measure(net: nn.Module, card: ModelCard, mnist: Mnist, canvases: int = 2000) -> Measured:
    """Fit the novelty detector, report unsure on the test set, measure robustness.

    The test set is passed through the network once. Training ends with this, and
    `run_model.py evaluate --update-card` runs it for models saved before it existed.
    """
    tap = FeatureTap(net, architecture(card.architecture).feature_layers(net))
    detector, calibration_unsure = fit_novelty(net, tap, card, mnist)
    test_logits, test_features = logits_and_features(net, tap, mnist.test_images)
    tap.remove()
    temperature = card.calibration.temperature
    test = evaluate_logits(
        test_logits,
        mnist.test_labels,
        temperature,
        card.unsure_threshold,
        novel=detector.is_novel(test_features),
    )
    detector_file = detector.to_bytes()
    card = replace(
        card,
        novelty=novelty_entry(
            detector, tap, hashlib.sha256(detector_file).hexdigest(), card, calibration_unsure
        ),
    )
    predictor = Predictor(net, card, torch.device("cpu"), detector)
    report, non_digits_flagged = robustness_report(predictor, mnist, canvases)
    unsure = replace(
        with_test_unsure(card.unsure_report, card.architecture, test),
        non_digits_flagged=non_digits_flagged,
    )
    card = replace(
        card,
        unsure_report=unsure,
        robustness=report,
        style_proxy=robustness.style_proxy(predictor, robustness.proxy_digits("held-out people")),
        style_proxy_held_out_styles=robustness.style_proxy(
            predictor, robustness.proxy_digits("held-out styles")
        ),
    )
    return Measured(card, detector_file, test, softmax(test_logits, temperature))


def fit_novelty(
    net: nn.Module, tap: FeatureTap, card: ModelCard, mnist: Mnist
) -> tuple[NoveltyDetector, float]:
    """Class statistics from the training images, the threshold by `novelty_threshold`.

    Returns the detector and the share of `CALIBRATION_SET` the two tests flag.
    """
    train_x, train_y, _, _ = mnist.split()
    style_share = card.config.style_share if card.config else 0.0
    train_x, train_y = with_style_digits(train_x, train_y, style_share)
    _, train_features = logits_and_features(net, tap, train_x)
    detector = NoveltyDetector.fit(train_features, train_y)
    calibration = logits_and_features(net, tap, calibration_split(mnist)[0])
    return novelty_threshold(detector, net, tap, card, calibration)


def novelty_threshold(
    detector: NoveltyDetector,
    net: nn.Module,
    tap: FeatureTap,
    card: ModelCard,
    calibration: tuple[np.ndarray, np.ndarray],
) -> tuple[NoveltyDetector, float]:
    """`detector` with the threshold (`model.novelty`) the looser of: flagging
    NON_DIGIT_FLAGGED_SHARE of fitting non-digits, flagging COMBINED_UNSURE_SHARE of
    the calibration digits, whose (logits, features) are `calibration` (both with the
    card's confidence test).

    Returns it and the share of the calibration digits the two tests flag. Training
    and fine-tuning both choose it so.
    """
    non_digits, dropped = fitting_non_digits()
    shape_logits, shape_features = logits_and_features(net, tap, non_digits)
    catching = detector.for_non_digits(
        detector.distances(shape_features), is_unconfident(shape_logits, card), dropped
    )
    cal_logits, cal_features = calibration
    unconfident = is_unconfident(cal_logits, card)
    budget = detector.with_threshold(detector.distances(cal_features), unconfident)
    detector = replace(detector, threshold=max(catching.threshold, budget.threshold))
    return detector, float((unconfident | detector.is_novel(cal_features)).mean())


def confidence_cut(arch: str) -> str:
    """How the card's `unsure_threshold` was chosen, in the card's words."""
    cut = architecture(arch).unsure_below
    return f"fixed: a calibrated chance of being right below {cut * 100:g}%"


def is_unconfident(logits: np.ndarray, card: ModelCard) -> np.ndarray:
    return softmax(logits, card.calibration.temperature).max(axis=1) < card.unsure_threshold


@functools.cache
def fitting_non_digits() -> tuple[np.ndarray, int]:
    """The non-digits the novelty threshold is fitted on, as the model sees them.

    (N x 28 x 28 images, read-only, how many preprocessing found empty.) Drawn with
    `FITTING_NON_DIGIT_SEED`, apart from the set `robustness.non_digit_flagged` reports;
    the same every time, so drawn once per process (a threshold per cut, per model).
    """
    shapes, _ = non_digit_shapes(FITTING_NON_DIGITS, np.random.default_rng(FITTING_NON_DIGIT_SEED))
    forms = np.stack([form for form in map(canvas_to_mnist, shapes) if form is not None])
    forms.setflags(write=False)
    return forms, len(shapes) - len(forms)


def with_style_digits(
    images: np.ndarray, labels: np.ndarray, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """The training split with training people's style digits added: `share` of it."""
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


def novelty_entry(
    detector: NoveltyDetector,
    tap: FeatureTap,
    sha256: str,
    card: ModelCard,
    calibration_unsure: float,
) -> NoveltyEntry:
    return NoveltyEntry(
        file=f"{card.name}.novelty.npz",
        sha256=sha256,
        threshold=detector.threshold,
        layers=tuple(tap.layers),
        method=DETECTOR_METHOD,
        dimensions=int(detector.means.shape[1]),
        fitted_on="training split and training people's style digits",
        threshold_chosen_on=NOVELTY_THRESHOLD_RULE,
        validation_unsure_share=calibration_unsure,
    )


def robustness_report(
    predictor: Predictor, mnist: Mnist, canvases: int
) -> tuple[RobustnessReport, float]:
    """Drawings and non-digits (`model.robustness`); (report, share of non-digits flagged)."""
    canvas = robustness.canvas_accuracy(
        predictor, mnist.test_images[:canvases], mnist.test_labels[:canvases]
    )
    shapes = robustness.non_digit_flagged(predictor, n=1300)
    drawn = robustness.drawn_digit_accuracy(predictor, per_digit=30)
    report = RobustnessReport(
        synthetic_canvases=canvas.n,
        synthetic_canvas_accuracy=canvas.accuracy,
        synthetic_canvas_unsure=canvas.unsure_share,
        naive_resize_accuracy=canvas.naive_resize_accuracy,
        synthetic_canvas_accuracy_by_kind=canvas.by_kind,
        drawn_digits=drawn.n,
        drawn_digit_accuracy=drawn.accuracy,
        drawn_digit_unsure=drawn.unsure_share,
        non_digits=shapes.n,
        non_digits_flagged_by_kind=shapes.by_kind,
        mnist_unchanged_by_preprocessing=robustness.idempotence(predictor, mnist.test_images),
    )
    return report, shapes.flagged


def save_model(net: nn.Module, card: ModelCard, weights: Path, detector_file: bytes) -> ModelCard:
    """Weights, then detector, then the card naming both: the card is written last."""
    card = replace(card, weights_file=weights.name, weights_sha256=save_weights(net, weights))
    return save_measured(weights, card, detector_file)


def save_measured(weights: Path, card: ModelCard, detector_file: bytes) -> ModelCard:
    """The detector beside `weights`, then the card that names it."""
    path = detector_path(weights)
    card = replace(card, novelty=replace(card.novelty, file=path.name))
    write_detector(path, detector_file)
    write_card(card_path(weights), card)
    return card


def complete_card(weights: Path, mnist: Mnist) -> ModelCard:
    """Measure a saved model anew (novelty, unsure, robustness) and rewrite its card.

    The weights are untouched, so their SHA-256 holds; the figures training measured
    on the test set are kept as they are. The confidence cut is today's rule.
    """
    weights = Path(weights)
    net, card = load_checkpoint(weights)
    card = replace(card, unsure_threshold=architecture(card.architecture).unsure_below)
    measured = measure(net, card, mnist)
    return save_measured(weights, measured.card, measured.detector_file)


def draw_results(
    card: ModelCard,
    history: list[EpochRecord],
    mnist: Mnist,
    test_probs: np.ndarray,
    results_dir: Path,
) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    label = f"{card.name} ({card.architecture}): test accuracy {card.test_accuracy:.2%}"
    plots.plot_test_predictions(
        mnist.test_images, mnist.test_labels, test_probs, results_dir / "test_predictions.png"
    )
    plots.plot_confusion_matrix(
        np.array(card.test_confusion_matrix), results_dir / "confusion_matrix.png", label
    )
    plots.plot_training_curves(history, results_dir / "training_curves.png", label)


def evaluate_saved(weights: Path, mnist: Mnist) -> tuple[SetMetrics, ModelCard]:
    """Re-measure a saved model on the test set, as the app would use it: (metrics, card)."""
    predictor = Predictor.load(weights)
    return evaluate_predictor(predictor, mnist), predictor.card


def evaluate_predictor(predictor: Predictor, mnist: Mnist) -> SetMetrics:
    """Test-set metrics of a loaded model, unsure by confidence and novelty alike."""
    scores = predictor.score_batch(mnist.test_images)
    return evaluate_logits(
        scores.logits,
        mnist.test_labels,
        predictor.temperature,
        predictor.unsure_threshold,
        novel=scores.novel,
    )


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine()
