"""How a saved model fares beyond MNIST's own test images.

One function per question, each deterministic by seed and shared by the tests, the
benchmarks and the model card, so that the three always report the same figure:

- `canvas_accuracy`: MNIST test digits redrawn as canvases (upscaled, thick, thin,
  small, at the edge, either polarity, transparent), predicted through
  `canvas_to_mnist` and, for comparison, through naive resizing;
- `drawn_digit_accuracy`: digits painted from stroke templates with a round brush;
- `non_digit_flagged`: how many scribbles, letters and figures are called "unsure";
- `idempotence`: how many MNIST digits keep their prediction through `canvas_to_mnist`;
- `style_proxy`: held-out people's handwriting (`model.handwriting`), the proxy of
  real users: accuracy, worst person, unsure share and the errors by (true, predicted),
  on each split of `PROXY_SPLITS` (new people in training's styles; people who also
  write styles training never saw).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from model.card import StyleProxyReport
from model.handwriting import StyleDigits, default_cache_dir, style_digits
from model.predictor import Predictor
from model.preprocess import canvas_to_mnist
from model.strokes import CANVAS_SIDE
from model.synthetic import (
    canvas_test_set,
    digit_paths,
    naive_resize,
    non_digit_shapes,
    render_strokes,
)


def _mnist_form(images) -> tuple[np.ndarray, np.ndarray]:
    """Preprocess each image; (N' x 28 x 28 stack, indices of the non-empty ones)."""
    forms = [canvas_to_mnist(image) for image in images]
    kept = np.array([i for i, form in enumerate(forms) if form is not None], dtype=int)
    stack = np.stack([forms[i] for i in kept]) if len(kept) else np.zeros((0, 28, 28), np.uint8)
    return stack, kept


def _answers(
    predictor: Predictor, forms: np.ndarray, kept: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(predicted digit, unsure) for n pictures; the empty ones: -1 and unsure."""
    predicted, unsure = np.full(n, -1), np.ones(n, dtype=bool)
    scores = predictor.score_batch(forms)
    predicted[kept], unsure[kept] = scores.probabilities.argmax(1), scores.unsure
    return predicted, unsure


@dataclass(frozen=True)
class CanvasReading:
    """MNIST test digits redrawn as canvases, read through `canvas_to_mnist`."""

    n: int
    accuracy: float
    unsure_share: float
    naive_resize_accuracy: float  # the same canvases shrunk to 28 x 28 as they are
    by_kind: dict[str, float]  # accuracy per kind of redrawing
    failures: list[str]  # the first 20 misread canvases, described


@dataclass(frozen=True)
class DrawnReading:
    """Digits painted from stroke templates."""

    n: int
    accuracy: float
    unsure_share: float
    by_digit: list[float]


@dataclass(frozen=True)
class NonDigitReading:
    """Scribbles, letters and figures: how many the model calls unsure."""

    n: int
    flagged: float
    by_kind: dict[str, float]


def canvas_accuracy(
    predictor: Predictor, images28: np.ndarray, labels: np.ndarray, seed: int = 0
) -> CanvasReading:
    """Accuracy on the synthetic canvas set: faithful pipeline vs naive resizing."""
    canvases = canvas_test_set(images28, labels, np.random.default_rng(seed))
    pictures = list(canvases)
    forms, kept = _mnist_form(pictures)
    predicted, unsure = _answers(predictor, forms, kept, len(labels))
    naive = predictor.predict_batch(np.stack([naive_resize(p) for p in pictures])).argmax(1)
    correct = predicted == labels
    kinds = canvases.kinds
    return CanvasReading(
        n=len(labels),
        accuracy=float(correct.mean()),
        unsure_share=float(unsure.mean()),
        naive_resize_accuracy=float((naive == labels).mean()),
        by_kind={str(k): float(correct[kinds == k].mean()) for k in dict.fromkeys(kinds)},
        failures=[canvases.variants[i].describe() for i in np.flatnonzero(~correct)[:20]],
    )


def drawn_digit_accuracy(predictor: Predictor, per_digit: int = 30, seed: int = 0) -> DrawnReading:
    """Accuracy on digits painted from stroke templates with brushes of 8 to 36 px."""
    rng = np.random.default_rng(seed)
    pictures, labels = [], []
    for digit in range(10):
        for _ in range(per_digit):
            paths = digit_paths(digit, rng)
            pictures.append(render_strokes(paths, CANVAS_SIDE, float(rng.uniform(8, 36))))
            labels.append(digit)
    forms, kept = _mnist_form(pictures)
    labels_arr = np.array(labels)
    predicted, unsure = _answers(predictor, forms, kept, len(labels))
    correct = predicted == labels_arr
    return DrawnReading(
        n=len(labels),
        accuracy=float(correct.mean()),
        unsure_share=float(unsure.mean()),
        by_digit=[float(correct[labels_arr == d].mean()) for d in range(10)],
    )


def non_digit_flagged(predictor: Predictor, n: int = 600, seed: int = 0) -> NonDigitReading:
    """Share of non-digit drawings that the model calls unsure (or that preprocess drops)."""
    shapes, kinds = non_digit_shapes(n, np.random.default_rng(seed))
    forms, kept = _mnist_form(shapes)
    flagged = np.ones(n, dtype=bool)  # nothing to predict counts as not answered
    flagged[kept] = predictor.score_batch(forms).unsure
    totals, hits = Counter(kinds), Counter(k for k, f in zip(kinds, flagged, strict=True) if f)
    return NonDigitReading(
        n=n,
        flagged=float(flagged.mean()),
        by_kind={kind: hits[kind] / totals[kind] for kind in totals},
    )


def idempotence(predictor: Predictor, images28: np.ndarray) -> float:
    """Share of MNIST digits whose prediction is unchanged by `canvas_to_mnist`."""
    direct = predictor.predict_batch(images28).argmax(1)
    forms, kept = _mnist_form(images28)
    through = np.full(len(images28), -1)
    through[kept] = predictor.predict_batch(forms).argmax(1)
    return float((direct == through).mean())


# The held-out people the card, the benchmarks and the tests measure (CI-sized).
PROXY_PEOPLE = 40
PROXY_PER_DIGIT = 5


# Proxy split -> the group of people drawing it (`model.handwriting.GROUPS`).
PROXY_SPLITS = {"held-out people": "held-out", "held-out styles": "held-out-styles"}


def proxy_digits(
    split: str = "held-out people",
    people: int = PROXY_PEOPLE,
    start: int = 0,
    sample_ms: float | None = None,
) -> StyleDigits:
    """A proxy split: `people` people (the card's PROXY_PEOPLE by default; from index
    `start` for others of the same group) drawing each digit PROXY_PER_DIGIT times, each
    recorded at their own rate or, given `sample_ms`, every one that often."""
    if split not in PROXY_SPLITS:
        raise ValueError(f"proxy split must be one of {', '.join(PROXY_SPLITS)}, got {split!r}")
    return style_digits(
        PROXY_SPLITS[split],
        people,
        PROXY_PER_DIGIT,
        start=start,
        cache_dir=default_cache_dir(),
        sample_ms=sample_ms,
    )


def style_proxy(predictor: Predictor, digits: StyleDigits) -> StyleProxyReport:
    """How `predictor` reads held-out people's digits (see `model.handwriting`)."""
    scores = predictor.score_batch(digits.images)
    predicted, unsure = scores.probabilities.argmax(1), scores.unsure
    correct = predicted == digits.labels
    people = np.unique(digits.person)
    by_person = np.array([correct[digits.person == p].mean() for p in people])
    errors = Counter(
        zip(digits.labels[~correct].tolist(), predicted[~correct].tolist(), strict=True)
    )
    return StyleProxyReport(
        n=len(digits.labels),
        people=len(people),
        accuracy=float(correct.mean()),
        worst_person_accuracy=float(by_person.min()),
        unsure_share=float(unsure.mean()),
        errors_flagged_unsure=float(unsure[~correct].mean()) if (~correct).any() else 1.0,
        accuracy_when_sure=float(correct[~unsure].mean()) if (~unsure).any() else 1.0,
        errors_by_pair=tuple((t, p, n) for (t, p), n in errors.most_common()),
    )
