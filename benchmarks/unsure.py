"""How honest the "unsure" flag is: README's unsure table.

For each committed model: the share of MNIST test digits flagged unsure (goal: at
most 2 %), the share of the handwriting proxy's held-out-styles digits flagged (goal:
at most 4 % of real digits) with the share of their errors caught, and the share of
non-digit drawings (scribbles, letters, boxes, crosses, ...) flagged (goal: at least
90 %). The proxy is measured twice: on the card's 40 people and on 200 more of the
same group (10,000 digits), whose spread says how far the card's figure can be
trusted. A prediction is unsure when its calibrated confidence is below the card's
cut or its features are far from every digit (`model.novelty`).

    python benchmarks/unsure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_test_mnist, print_breakdown, print_table
from model.handwriting import StyleDigits, default_cache_dir, style_digits
from model.pipeline import evaluate_predictor
from model.predictor import Predictor, available_models
from model.robustness import (
    PROXY_PEOPLE,
    PROXY_PER_DIGIT,
    PROXY_SPLITS,
    non_digit_flagged,
    proxy_digits,
    style_proxy,
)

MORE_PEOPLE = 200


def proxy_cell(predictor: Predictor, digits: StyleDigits) -> str:
    """`predictor` on proxy digits: share flagged (share of errors caught), accuracy."""
    proxy = style_proxy(predictor, digits)
    return (
        f"{proxy['unsure_share']:.2%} ({proxy['errors_flagged_unsure']:.0%}), "
        f"{proxy['accuracy']:.2%}"
    )


def main() -> None:
    mnist = load_test_mnist()
    group = PROXY_SPLITS["held-out styles"]
    more = style_digits(
        group, MORE_PEOPLE, PROXY_PER_DIGIT, start=PROXY_PEOPLE, cache_dir=default_cache_dir()
    )
    rows, per_kind = [], {}
    for name in available_models():
        predictor = Predictor.load(name)
        metrics = evaluate_predictor(predictor, mnist)
        shapes = non_digit_flagged(predictor, n=1300)
        per_kind[name] = shapes["by_kind"]
        rows.append(
            [
                name,
                f"{metrics['unsure_share']:.2%} ({metrics['errors_flagged_unsure']:.0%})",
                proxy_cell(predictor, proxy_digits("held-out people")),
                proxy_cell(predictor, proxy_digits("held-out styles")),
                proxy_cell(predictor, more),
                f"{shapes['flagged']:.1%}",
            ]
        )
    print_table(
        [
            "model",
            "MNIST test flagged (errors caught)",
            f"held-out people, {PROXY_PEOPLE}: flagged (errors caught), accuracy",
            f"held-out styles, {PROXY_PEOPLE}: flagged (errors caught), accuracy",
            f"held-out styles, {MORE_PEOPLE} more: flagged (errors caught), accuracy",
            "non-digits flagged",
        ],
        rows,
    )
    print("\nNon-digit drawings flagged, by kind:\n")
    print_breakdown(per_kind, "kind", ".0%")


if __name__ == "__main__":
    main()
