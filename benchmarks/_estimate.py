"""Today's real figures, estimated from the one model measured on real drawings.

Issue 13 measured the previous default on two private sets of real drawings
(`REAL_SETS`). Its excess of errors and flags over MNIST test there is taken to shrink
or grow as its excess on optdigits' real writers never looked at over MNIST test, both
at optdigits' 8 x 8 grid, does (`estimated_real`). `proxy_vs_real` reports the
estimate; `unsure` reads it for every confidence cut.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks._optdigits import (
    FORMS,
    LOOKED_AT,
    OTHER_WRITERS,
    at_optdigits_resolution,
    in_mnist_form,
    never_looked_at,
)
from model.data import Mnist
from model.predictor import Predictor


@dataclass(frozen=True)
class RealSet:
    """What the previous default scored on a private set of real drawings (issue 13)."""

    name: str
    accuracy: float
    worst_person: float
    unsure: float


REAL_SETS = (
    RealSet("real: 14 people, 3,498 digits", 0.958, 0.768, 0.107),
    RealSet("real: 268 other people, 3,498 digits", 0.967, 0.769, 0.083),
)


@dataclass(frozen=True)
class CoarseSet:
    """Digits in MNIST's form, most brought through optdigits' 8 x 8 grid; `person[i]`
    says whose (None: unknown)."""

    images: np.ndarray
    labels: np.ndarray
    person: np.ndarray | None = None


def through_grid(counts: np.ndarray, labels: np.ndarray, person: np.ndarray | None) -> CoarseSet:
    images, kept = in_mnist_form(counts)
    return CoarseSet(images, labels[kept], None if person is None else person[kept])


@dataclass(frozen=True)
class AnchorSets:
    """What the estimate reads, each under its row name in the 8 x 8 table."""

    mnist: CoarseSet  # MNIST test as the model sees it
    writers: CoarseSet  # optdigits' real writers never looked at to design styles
    mnist_8x8: CoarseSet  # MNIST test brought to optdigits' 8 x 8
    writers_name: str
    mnist_8x8_name: str


def anchor_sets(mnist: Mnist, n: int) -> AnchorSets:
    """optdigits' writers never looked at; MNIST test whole, and its first `n` at 8 x 8."""
    writers = CoarseSet(*never_looked_at())
    writers_name = (
        f"real: never looked at (forms {LOOKED_AT}-{FORMS - 1} and the {OTHER_WRITERS} "
        f"others), {len(writers.labels):,} digits"
    )
    at_8x8 = at_optdigits_resolution(mnist.test_images[:n])
    mnist_8x8 = through_grid(at_8x8, mnist.test_labels[:n], None)
    whole = CoarseSet(mnist.test_images, mnist.test_labels)
    return AnchorSets(whole, writers, mnist_8x8, writers_name, f"MNIST test, {n:,} digits")


@dataclass(frozen=True)
class Reading:
    """One model on one set: accuracy, worst person (None: unknown), unsure share, the
    share of its errors flagged unsure and the commonest errors (true→read count)."""

    accuracy: float
    worst_person: float | None
    unsure: float
    commonest: str = ""
    errors_caught: float = 0.0

    def cell(self) -> str:
        worst = "–" if self.worst_person is None else f"{self.worst_person:.0%}"
        return f"{self.accuracy:.2%}, {worst}, {self.unsure:.2%} ({self.commonest})"


def reading(predictor: Predictor, digits: CoarseSet) -> Reading:
    scores = predictor.score_batch(digits.images)
    read = scores.probabilities.argmax(1)
    wrong = read != digits.labels
    errors = Counter(zip(digits.labels[wrong].tolist(), read[wrong].tolist(), strict=True))
    common = " ".join(f"{t}→{r} {n}" for (t, r), n in errors.most_common(3))
    worst = None
    if digits.person is not None:
        worst = min(1 - wrong[digits.person == p].mean() for p in set(digits.person))
    caught = float(scores.unsure[wrong].mean()) if wrong.any() else 0.0
    return Reading(1 - wrong.mean(), worst, scores.unsure.mean(), common, caught)


@dataclass(frozen=True)
class Anchors:
    """One model's readings that the estimate of its real figures rests on."""

    mnist: Reading
    writers: Reading
    mnist_8x8: Reading


def anchors(predictor: Predictor, sets: AnchorSets) -> Anchors:
    return Anchors(*(reading(predictor, s) for s in (sets.mnist, sets.writers, sets.mnist_8x8)))


def estimated_real(real: RealSet, previous: Anchors, today: Anchors) -> tuple[float, float]:
    """Today's (accuracy, unsure share) on `real`, from the one model measured on it: its
    excess of errors (and of flags) over MNIST test is taken to shrink or grow as the
    excess of the real writers never looked at over MNIST does at optdigits' 8 x 8."""

    def scaled(value: Callable[[Reading], float], real_then: float) -> float:
        then = value(previous.writers) - value(previous.mnist_8x8)
        now = value(today.writers) - value(today.mnist_8x8)
        return value(today.mnist) + (real_then - value(previous.mnist)) * now / then

    error = scaled(lambda r: 1 - r.accuracy, 1 - real.accuracy)
    return 1 - error, scaled(lambda r: r.unsure, real.unsure)
