"""How far the handwriting proxy predicts real users: README's proxy-against-reality table.

Real people's drawings were read privately by one model, the default resnet of commit
`PREVIOUS_DEFAULT` (before the proxy existed); issue 13 reports what it measured
(`REAL_SETS`). That model, taken from git history, and today's default are measured
here on every proxy split. Where the previous model's proxy figures sit beside its real
ones says how to read today's: which split to believe, and for which figure.

Then real handwriting anyone can check: optdigits' 13 writers of scikit-learn, at
their 8 x 8 resolution, whole and by halves (forms looked at to design styles, and
forms only measured), and its 30 other writers, beside MNIST test and the proxy brought
to it (`benchmarks/_optdigits.py`). Does the gain the proxy promises reach real
writers? What the writers never looked at say gives today's real figures an estimate
(`estimated_real`).

    python benchmarks/proxy_vs_real.py
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    MORE_PEOPLE,
    PREVIOUS_DEFAULT,
    arguments,
    load_test_mnist,
    markdown_table,
    previous_default,
    save_result,
)
from benchmarks._optdigits import (
    LOOKED_AT,
    OTHER_WRITERS,
    at_optdigits_resolution,
    halves,
    in_mnist_form,
    other_writers,
    real_writers,
)
from model.data import Mnist
from model.predictor import Predictor
from model.robustness import PROXY_PEOPLE, PROXY_SPLITS, proxy_digits, style_proxy


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


# The card's people again, every one on a pointer, then on a 10 Hz tablet.
RECORDED_AT_MS = (16.0, 100.0)


def proxy_cells(predictor: Predictor, more: int) -> list[tuple[str, str]]:
    """(split, "accuracy, worst person, unsure") for the card's people and `more` others,
    then for the card's people all recorded at each of `RECORDED_AT_MS`."""
    drawn = {}
    for split in PROXY_SPLITS:
        drawn[f"proxy: {split}, the card's {PROXY_PEOPLE} people"] = proxy_digits(split)
        drawn[f"proxy: {split}, {more} more people"] = proxy_digits(split, more, PROXY_PEOPLE)
    for split, ms in itertools.product(PROXY_SPLITS, RECORDED_AT_MS):
        name = f"proxy: {split}, the card's {PROXY_PEOPLE} people, all recorded at {ms:g} ms"
        drawn[name] = proxy_digits(split, sample_ms=ms)
    cells = []
    for name, digits in drawn.items():
        proxy = style_proxy(predictor, digits)
        figures = (
            f"{proxy['accuracy']:.2%}, {proxy['worst_person_accuracy']:.0%}, "
            f"{proxy['unsure_share']:.2%}"
        )
        cells.append((name, figures))
    return cells


@dataclass(frozen=True)
class CoarseSet:
    """Digits brought through optdigits' 8 x 8 grid; `person[i]` says whose (None: unknown)."""

    images: np.ndarray
    labels: np.ndarray
    person: np.ndarray | None = None


def through_grid(counts: np.ndarray, labels: np.ndarray, person: np.ndarray | None) -> CoarseSet:
    images, kept = in_mnist_form(counts)
    return CoarseSet(images, labels[kept], None if person is None else person[kept])


@dataclass(frozen=True)
class GridSets:
    """Every set brought through optdigits' 8 x 8 grid, by its row in the table, and
    which rows the estimate rests on."""

    rows: dict[str, CoarseSet]
    writers: str  # optdigits' real writers never looked at to design styles
    mnist: str  # MNIST test


def coarse_sets(mnist: Mnist, quick: bool) -> GridSets:
    """Real optdigits (the 13 writers whole and by halves, the 30 others, every writer
    never looked at) and, brought to its 8 x 8, MNIST test and the card's proxy people."""
    images, labels, form = real_writers()
    whole = f"real: optdigits, {form.max() + 1} forms, {len(labels):,} digits"
    rows = {whole: CoarseSet(images, labels, form)}
    for name, chosen in halves(form).items():
        rows[f"real: optdigits, {name}"] = CoarseSet(images[chosen], labels[chosen], form[chosen])
    others = CoarseSet(*other_writers())
    rows[f"real: optdigits' {OTHER_WRITERS} other writers, {len(others.labels):,} digits"] = others
    never = form >= LOOKED_AT
    unseen = CoarseSet(
        np.concatenate([images[never], others.images]),
        np.concatenate([labels[never], others.labels]),
    )
    writers = (
        f"real: never looked at (forms {LOOKED_AT}-{form.max()} and the {OTHER_WRITERS} "
        f"others), {len(unseen.labels):,} digits"
    )
    rows[writers] = unseen
    n = 500 if quick else len(mnist.test_labels)
    at_8x8 = at_optdigits_resolution(mnist.test_images[:n])
    mnist_row = f"MNIST test, {n:,} digits"
    rows[mnist_row] = through_grid(at_8x8, mnist.test_labels[:n], None)
    for split in PROXY_SPLITS:
        digits = proxy_digits(split)
        name = f"proxy: {split}, the card's {PROXY_PEOPLE} people"
        at_8x8 = at_optdigits_resolution(digits.images)
        rows[name] = through_grid(at_8x8, digits.labels, digits.person)
    return GridSets(rows, writers, mnist_row)


@dataclass(frozen=True)
class Reading:
    """One model on one set: accuracy, worst person (None: unknown), unsure share and
    the commonest errors (true→read count)."""

    accuracy: float
    worst_person: float | None
    unsure: float
    commonest: str = ""

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
    return Reading(1 - wrong.mean(), worst, scores.unsure.mean(), common)


@dataclass(frozen=True)
class Anchors:
    """One model's readings that the estimate of its real accuracy rests on."""

    mnist: Reading  # MNIST test as the model sees it
    writers: Reading  # optdigits' real writers never looked at, at 8 x 8
    mnist_8x8: Reading  # MNIST test brought to the same 8 x 8


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


def read_all(predictor: Predictor, sets: GridSets, mnist: CoarseSet) -> tuple[list[str], Anchors]:
    """(the cells of the 8 x 8 table, the anchors of the estimate) for one model."""
    readings = {name: reading(predictor, digits) for name, digits in sets.rows.items()}
    anchors = Anchors(reading(predictor, mnist), readings[sets.writers], readings[sets.mnist])
    return [r.cell() for r in readings.values()], anchors


def estimate_cell(real: RealSet, previous: Anchors, today: Anchors) -> str:
    accuracy, unsure = estimated_real(real, previous, today)
    return f"about {accuracy:.1%}, –, {unsure:.1%} (estimated from optdigits)"


def main(argv: list[str] | None = None) -> dict:
    quick = arguments(__doc__, argv).quick
    more = PROXY_PEOPLE if quick else MORE_PEOPLE
    mnist = load_test_mnist()
    sets, whole_mnist = coarse_sets(mnist, quick), CoarseSet(mnist.test_images, mnist.test_labels)
    today_model = Predictor.load(None)
    with tempfile.TemporaryDirectory() as folder:
        previous_model = Predictor.load(previous_default(Path(folder)))
        previous = proxy_cells(previous_model, more)
        previous_grid, previous_anchors = read_all(previous_model, sets, whole_mnist)
    today = proxy_cells(today_model, more)
    today_grid, today_anchors = read_all(today_model, sets, whole_mnist)
    rows = [
        [
            s.name,
            f"{s.accuracy:.1%}, {s.worst_person:.1%}, {s.unsure:.1%}",
            estimate_cell(s, previous_anchors, today_anchors),
        ]
        for s in REAL_SETS
    ] + [[name, old, new] for (name, old), (_, new) in zip(previous, today, strict=True)]
    coarse = [list(row) for row in zip(sets.rows, previous_grid, today_grid, strict=True)]
    figures = "accuracy, worst person, unsure"
    headers = ["set", f"previous default ({PREVIOUS_DEFAULT}): {figures}", f"today's: {figures}"]
    coarse_figures = "accuracy, worst person, unsure (commonest errors)"
    coarse_headers = [
        "at optdigits' 8 x 8",
        f"previous default ({PREVIOUS_DEFAULT}): {coarse_figures}",
        f"today's: {coarse_figures}",
    ]
    anchors = {"previous": asdict(previous_anchors), "today": asdict(today_anchors)}
    data = {
        "previous_default": PREVIOUS_DEFAULT,
        "rows": rows,
        "at_8x8": coarse,
        "anchors": anchors,
    }
    markdown = f"{markdown_table(headers, rows)}\n\n{markdown_table(coarse_headers, coarse)}"
    save_result("proxy_vs_real", data, markdown, quick=quick)
    return data


if __name__ == "__main__":
    main()
