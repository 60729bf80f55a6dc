"""Inference speed of the default model on this machine: README's latency table.

`predict` is what the app calls after every stroke (preprocessing included);
`predict_batch` is what the CLI and evaluations use. The ratio of the batched path
to a per-image Python loop over the same images is the figure to compare across
machines: absolute times move with the CPU and its load.

    python benchmarks/inference.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import load_test_mnist, print_table
from model.predictor import Predictor
from model.strokes import digit_paths, render_strokes


def _timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    torch.set_num_threads(1)  # the app serves one stroke per request on one core
    predictor = Predictor.load()
    images = load_test_mnist().test_images[:2000]
    canvas = render_strokes(digit_paths(3, np.random.default_rng(0)), 280, 18.0)
    predictor.predict(canvas)  # warm-up

    single = _timed(lambda: predictor.predict(canvas), 100)
    batch_ms = min(_timed(lambda: predictor.predict_batch(images), 3))
    loop_ms = min(_timed(lambda: [predictor.predict_batch(im[None]) for im in images], 1))
    print(f"model: {predictor.name}; torch threads: 1\n")
    print_table(
        ["path", "median", "p95 / total", "images per second"],
        [
            [
                "predict(280x280 canvas)",
                f"{statistics.median(single):.1f} ms",
                f"{np.percentile(single, 95):.1f} ms",
                f"{1000 / statistics.median(single):,.0f}",
            ],
            ["predict_batch(2,000)", "", f"{batch_ms:.0f} ms", f"{2000 / batch_ms * 1000:,.0f}"],
            ["one-by-one loop (2,000)", "", f"{loop_ms:.0f} ms", f"{2000 / loop_ms * 1000:,.0f}"],
        ],
    )
    print(f"\nbatched / looped throughput: {loop_ms / batch_ms:.1f}x")


if __name__ == "__main__":
    main()
