"""How far the handwriting proxy predicts real users: README's proxy-against-reality table.

Real people's drawings were read privately by one model, the default resnet of commit
`PREVIOUS_DEFAULT` (before the proxy existed); issue 13 reports what it measured
(`REAL_SETS`). That model, taken from git history, and today's default are measured
here on every proxy split. Where the previous model's proxy figures sit beside its real
ones says how to read today's: which split to believe, and for which figure.

    python benchmarks/proxy_vs_real.py
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    MORE_PEOPLE,
    PREVIOUS_DEFAULT,
    arguments,
    markdown_table,
    previous_default,
    save_result,
)
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


def main(argv: list[str] | None = None) -> dict:
    quick = arguments(__doc__, argv).quick
    more = PROXY_PEOPLE if quick else MORE_PEOPLE
    with tempfile.TemporaryDirectory() as folder:
        previous = proxy_cells(Predictor.load(previous_default(Path(folder))), more)
    today = proxy_cells(Predictor.load(None), more)
    rows = [
        [s.name, f"{s.accuracy:.1%}, {s.worst_person:.1%}, {s.unsure:.1%}", "not measured"]
        for s in REAL_SETS
    ] + [[name, old, new] for (name, old), (_, new) in zip(previous, today, strict=True)]
    figures = "accuracy, worst person, unsure"
    headers = ["set", f"previous default ({PREVIOUS_DEFAULT}): {figures}", f"today's: {figures}"]
    data = {"previous_default": PREVIOUS_DEFAULT, "rows": rows}
    save_result("proxy_vs_real", data, markdown_table(headers, rows), quick=quick)
    return data


if __name__ == "__main__":
    main()
