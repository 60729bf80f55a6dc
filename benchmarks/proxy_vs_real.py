"""How far the handwriting proxy predicts real users: README's proxy-against-reality table.

Real people's drawings were read privately by one model, the default resnet of commit
`PREVIOUS_DEFAULT` (before the proxy existed); issue 13 reports what it measured
(`REAL_SETS`). That model, taken from git history, and today's default are measured
here on every proxy split. Where the previous model's proxy figures sit beside its real
ones says how to read today's: which split to believe, and for which figure.

Then real handwriting anyone can check: the 13 writers of scikit-learn's optdigits, at
their 8 x 8 resolution, whole and by halves (forms looked at to design styles, and
forms only measured), beside MNIST test and the proxy brought to it
(`benchmarks/_optdigits.py`). Does the gain the proxy promises reach real writers?

    python benchmarks/proxy_vs_real.py
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
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
from benchmarks._optdigits import at_optdigits_resolution, halves, in_mnist_form, real_writers
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


def proxy_cells(predictor: Predictor, more: int) -> list[tuple[str, str]]:
    """(split, "accuracy, worst person, unsure") for the card's people and `more` others."""
    cells = []
    for split in PROXY_SPLITS:
        for start, people in ((0, PROXY_PEOPLE), (PROXY_PEOPLE, more)):
            proxy = style_proxy(predictor, proxy_digits(split, people, start=start))
            which = f"the card's {people}" if start == 0 else f"{people} more"
            figures = (
                f"{proxy['accuracy']:.2%}, {proxy['worst_person_accuracy']:.0%}, "
                f"{proxy['unsure_share']:.2%}"
            )
            cells.append((f"proxy: {split}, {which} people", figures))
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


def coarse_sets(quick: bool) -> dict[str, CoarseSet]:
    """Real optdigits (all, the forms looked at, the others) and, brought to its 8 x 8,
    MNIST test and the card's proxy people."""
    images, labels, form = real_writers()
    name = f"real: optdigits, {form.max() + 1} forms, {len(labels):,} digits"
    sets = {name: CoarseSet(images, labels, form)}
    for name, chosen in halves(form).items():
        sets[f"real: optdigits, {name}"] = CoarseSet(images[chosen], labels[chosen], form[chosen])
    mnist, n = load_test_mnist(), 500 if quick else 2000
    at_8x8 = at_optdigits_resolution(mnist.test_images[:n])
    sets[f"MNIST test, {n:,} digits"] = through_grid(at_8x8, mnist.test_labels[:n], None)
    for split in PROXY_SPLITS:
        digits = proxy_digits(split)
        name = f"proxy: {split}, the card's {PROXY_PEOPLE} people"
        at_8x8 = at_optdigits_resolution(digits.images)
        sets[name] = through_grid(at_8x8, digits.labels, digits.person)
    return sets


def coarse_cell(predictor: Predictor, digits: CoarseSet) -> str:
    """Accuracy, worst person, unsure share and the commonest errors (true→read count)."""
    scores = predictor.score_batch(digits.images)
    read = scores.probabilities.argmax(1)
    wrong = read != digits.labels
    errors = Counter(zip(digits.labels[wrong].tolist(), read[wrong].tolist(), strict=True))
    common = " ".join(f"{t}→{r} {n}" for (t, r), n in errors.most_common(3))
    worst = "–"
    if digits.person is not None:
        worst = f"{min(1 - wrong[digits.person == p].mean() for p in set(digits.person)):.0%}"
    return f"{1 - wrong.mean():.2%}, {worst}, {scores.unsure.mean():.2%} ({common})"


def coarse_table(previous: Predictor, today: Predictor, quick: bool) -> list[list[str]]:
    sets = coarse_sets(quick)
    return [
        [name, coarse_cell(previous, digits), coarse_cell(today, digits)]
        for name, digits in sets.items()
    ]


def main(argv: list[str] | None = None) -> dict:
    quick = arguments(__doc__, argv).quick
    more = PROXY_PEOPLE if quick else MORE_PEOPLE
    today_model = Predictor.load(None)
    with tempfile.TemporaryDirectory() as folder:
        previous_model = Predictor.load(previous_default(Path(folder)))
        previous = proxy_cells(previous_model, more)
        coarse = coarse_table(previous_model, today_model, quick)
    today = proxy_cells(today_model, more)
    rows = [
        [s.name, f"{s.accuracy:.1%}, {s.worst_person:.1%}, {s.unsure:.1%}", "not measured"]
        for s in REAL_SETS
    ] + [[name, old, new] for (name, old), (_, new) in zip(previous, today, strict=True)]
    figures = "accuracy, worst person, unsure"
    headers = ["set", f"previous default ({PREVIOUS_DEFAULT}): {figures}", f"today's: {figures}"]
    coarse_figures = "accuracy, worst person, unsure (commonest errors)"
    coarse_headers = [
        "at optdigits' 8 x 8",
        f"previous default ({PREVIOUS_DEFAULT}): {coarse_figures}",
        f"today's: {coarse_figures}",
    ]
    data = {"previous_default": PREVIOUS_DEFAULT, "rows": rows, "at_8x8": coarse}
    markdown = f"{markdown_table(headers, rows)}\n\n{markdown_table(coarse_headers, coarse)}"
    save_result("proxy_vs_real", data, markdown, quick=quick)
    return data


if __name__ == "__main__":
    main()
