"""Accuracy of every committed model on drawings, not MNIST: README's robustness table.

The synthetic canvas set redraws all 10,000 MNIST test digits as 280x280 canvases
(thick, thin, small, at the edge, both polarities, transparent); the drawn set
paints digits from stroke templates. Each goes through `canvas_to_mnist` (the app's
path) and, for comparison, through naive whole-canvas resizing.

    python benchmarks/canvas_accuracy.py [--n 10000] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_test_mnist, print_breakdown, print_table
from model.predictor import Predictor, available_models
from model.robustness import canvas_accuracy, drawn_digit_accuracy


def main(n: int = 10_000) -> None:
    mnist = load_test_mnist()
    rows, kinds = [], {}
    for name in available_models():
        predictor = Predictor.load(name)
        canvas = canvas_accuracy(predictor, mnist.test_images[:n], mnist.test_labels[:n])
        drawn = drawn_digit_accuracy(predictor, per_digit=50)
        kinds[name] = canvas.by_kind
        rows.append(
            [
                name,
                f"{predictor.card.test_accuracy:.2%}",
                f"{canvas.accuracy:.2%}",
                f"{canvas.naive_resize_accuracy:.2%}",
                f"{drawn.accuracy:.2%}",
            ]
        )
    print(
        f"Synthetic canvases: {n:,} MNIST test digits redrawn; "
        "drawn digits: 500 stroke paintings.\n"
    )
    print_table(
        ["model", "MNIST test", "canvases, canvas_to_mnist", "canvases, naive resize", "drawn"],
        rows,
    )
    print("\nBy kind of canvas (canvas_to_mnist):\n")
    print_breakdown(kinds, "kind")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="MNIST test digits to redraw")
    parser.add_argument("--quick", action="store_true", help="redraw 1,000 digits only")
    args = parser.parse_args()
    main(min(args.n, 1_000) if args.quick else args.n)
