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
(`benchmarks/_estimate.py`).

    python benchmarks/proxy_vs_real.py
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    MORE_PEOPLE,
    PREVIOUS_DEFAULT,
    arguments,
    load_test_mnist,
    machine,
    markdown_table,
    previous_default,
    save_result,
)
from benchmarks._estimate import (
    REAL_SETS,
    Anchors,
    AnchorSets,
    CoarseSet,
    RealSet,
    anchor_sets,
    estimated_real,
    reading,
    through_grid,
)
from benchmarks._optdigits import (
    OTHER_WRITERS,
    at_optdigits_resolution,
    halves,
    other_writers,
    real_writers,
)
from model.data import Mnist
from model.predictor import Predictor
from model.robustness import PROXY_PEOPLE, PROXY_SPLITS, proxy_digits, style_proxy

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
            f"{proxy.accuracy:.2%}, {proxy.worst_person_accuracy:.0%}, {proxy.unsure_share:.2%}"
        )
        cells.append((name, figures))
    return cells


@dataclass(frozen=True)
class GridSets:
    """Every set brought through optdigits' 8 x 8 grid, by its row in the table, and
    the sets the estimate reads."""

    rows: dict[str, CoarseSet]
    anchors: AnchorSets


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
    estimate = anchor_sets(mnist, 500 if quick else len(mnist.test_labels))
    rows[estimate.writers_name] = estimate.writers
    rows[estimate.mnist_8x8_name] = estimate.mnist_8x8
    for split in PROXY_SPLITS:
        digits = proxy_digits(split)
        name = f"proxy: {split}, the card's {PROXY_PEOPLE} people"
        at_8x8 = at_optdigits_resolution(digits.images)
        rows[name] = through_grid(at_8x8, digits.labels, digits.person)
    return GridSets(rows, estimate)


def read_all(predictor: Predictor, sets: GridSets) -> tuple[list[str], Anchors]:
    """(the cells of the 8 x 8 table, the anchors of the estimate) for one model."""
    readings = {name: reading(predictor, digits) for name, digits in sets.rows.items()}
    estimate = sets.anchors
    writers, mnist_8x8 = readings[estimate.writers_name], readings[estimate.mnist_8x8_name]
    return [r.cell() for r in readings.values()], Anchors(
        reading(predictor, estimate.mnist), writers, mnist_8x8
    )


def estimate_cell(real: RealSet, previous: Anchors, today: Anchors) -> str:
    accuracy, unsure = estimated_real(real, previous, today)
    return f"about {accuracy:.1%}, –, {unsure:.1%} (estimated from optdigits)"


def main(argv: list[str] | None = None) -> dict:
    quick = arguments(__doc__, argv).quick
    info = machine()
    more = PROXY_PEOPLE if quick else MORE_PEOPLE
    mnist = load_test_mnist()
    sets = coarse_sets(mnist, quick)
    today_model = Predictor.load(None)
    with tempfile.TemporaryDirectory() as folder:
        previous_model = Predictor.load(previous_default(Path(folder)))
        previous = proxy_cells(previous_model, more)
        previous_grid, previous_anchors = read_all(previous_model, sets)
    today = proxy_cells(today_model, more)
    today_grid, today_anchors = read_all(today_model, sets)
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
    save_result("proxy_vs_real", data, markdown, quick=quick, info=info)
    return data


if __name__ == "__main__":
    main()
