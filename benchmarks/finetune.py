"""Fine-tuning on labelled drawings: how long 2,000 take, and what the challenger gains.

One run of `model.finetune.finetune_from_drawings`, exactly what `run_model.py
finetune` calls, on 2,000 drawings by 29 synthetic people (`tests/synthetic_people.py`:
styles the default model partly misreads), from the default model, into a
temporary folder. The clock covers everything: the split, re-rendering strokes,
training, refitting calibration and the unsure detector, saving, and comparing
champion and challenger on held-out people and MNIST test. Then both models are
scored on 14 other people, who never took part (the issue's goal: >= 99.0 % there,
at most half the champion's errors), and on optdigits' 43 real writers (its 13 and its
30 others): what a challenger learns from some people should not cost others.

    python benchmarks/finetune.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    arguments,
    goal_verdict,
    load_test_mnist,
    machine,
    markdown_table,
    save_result,
)
from benchmarks._optdigits import every_writer
from model.compare import HELD_OUT, MNIST_TEST
from model.finetune import FinetuneConfig, finetune_from_drawings
from model.predictor import Predictor, resolve_model_path
from tests.synthetic_people import people_drawings

GOAL_SECONDS = 300


def main() -> None:
    args = arguments(__doc__)
    info = machine()
    mnist = load_test_mnist()
    writers, per_digit = (10, 3) if args.quick else (30, 7)
    drawings = people_drawings(range(writers), per_digit=per_digit, seed=1)
    drawings = drawings.subset(np.arange(min(len(drawings), 2000)))
    people = len(set(drawings.groups()))
    others = people_drawings(range(100, 114), per_digit=10, seed=2)
    writers = every_writer()
    base = resolve_model_path(None)
    config = FinetuneConfig(epochs=1) if args.quick else FinetuneConfig()
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        outcome = finetune_from_drawings(
            base, drawings, mnist, Path(folder), "challenger", config=config
        )
        seconds = time.perf_counter() - started
        models = {"champion": base, "challenger": outcome.weights}
        predictors = {role: Predictor.load(weights) for role, weights in models.items()}
        other, real = (
            {role: _accuracy(predictor, *d) for role, predictor in predictors.items()}
            for d in ((others.images, others.labels), writers)
        )
    report = outcome.report.to_json()
    data = {
        "drawings": len(drawings),
        "people": people,
        "seconds": round(seconds, 1),
        "other_people": other,
        "real_writers": real,
        "report": report,
    }
    held, digits = report["sets"][HELD_OUT], report["sets"][MNIST_TEST]
    errors = (1 - other["challenger"]) / max(1e-9, 1 - other["champion"])
    headers = [
        "drawings (people)",
        "fine-tune, all included",
        "held-out people",
        "14 other people",
        "their errors left",
        "MNIST test",
        "real writers (optdigits, 43)",
        "verdict",
    ]
    row = [
        f"{len(drawings):,} ({people})",
        f"{seconds:.0f} s ({goal_verdict(seconds, GOAL_SECONDS)})",
        _change(held["champion_accuracy"], held["challenger_accuracy"]),
        _change(other["champion"], other["challenger"]),
        f"{errors:.0%} (goal <= 50 %)",
        _change(digits["champion_accuracy"], digits["challenger_accuracy"]),
        _change(real["champion"], real["challenger"]),
        report["verdict"],
    ]
    markdown = markdown_table(headers, [row])
    save_result("finetune", data, markdown, quick=args.quick, info=info)


def _accuracy(predictor: Predictor, images: np.ndarray, labels: np.ndarray) -> float:
    predicted = predictor.predict_batch(images).argmax(1)
    return float((predicted == labels).mean())


def _change(champion: float, challenger: float) -> str:
    return f"{champion:.2%} -> {challenger:.2%}"


if __name__ == "__main__":
    main()
