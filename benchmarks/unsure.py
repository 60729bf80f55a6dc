"""How honest the "unsure" flag is: README's unsure table.

For each committed model: the share of MNIST test digits flagged unsure (goal:
at most 2 %), the accuracy on the rest, the share of its errors that were flagged,
and the share of non-digit drawings (scribbles, letters, boxes, crosses, ...)
flagged (goal: at least 90 %). A prediction is unsure when its confidence is below
the card's threshold or its features are far from every digit (`model.novelty`);
both thresholds were chosen on the validation split.

    python benchmarks/unsure.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_test_mnist, print_breakdown, print_table
from model.pipeline import evaluate_predictor
from model.predictor import Predictor, available_models
from model.robustness import non_digit_flagged


def main() -> None:
    mnist = load_test_mnist()
    rows, per_kind = [], {}
    for name in available_models():
        predictor = Predictor.load(name)
        metrics = evaluate_predictor(predictor, mnist)
        shapes = non_digit_flagged(predictor, n=1300)
        per_kind[name] = shapes["by_kind"]
        rows.append(
            [
                name,
                f"{predictor.unsure_threshold:.3f}",
                f"{metrics['unsure_share']:.2%}",
                f"{metrics['accuracy_when_sure']:.2%}",
                f"{metrics['errors_flagged_unsure']:.0%}",
                f"{shapes['flagged']:.1%}",
            ]
        )
    print_table(
        [
            "model",
            "threshold",
            "MNIST test flagged",
            "accuracy when sure",
            "errors flagged",
            "non-digits flagged",
        ],
        rows,
    )
    print("\nNon-digit drawings flagged, by kind:\n")
    print_breakdown(per_kind, "kind", ".0%")


if __name__ == "__main__":
    main()
