"""How long `canvas_to_mnist` takes: it runs after every stroke in the app.

Prints a table of median and 95th-percentile milliseconds per call for the inputs
the app and the CLI see, as called (clean drawings take the fast path) and with
`fast_path=False` (the full path) beside it. Single-threaded, after a warm-up; the
pictures come from `model.synthetic`, so the script needs no data.

    python benchmarks/preprocess_latency.py [--repeats 200] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import timings_ms
from model.preprocess import canvas_to_mnist
from model.strokes import digit_paths, render_strokes
from model.synthetic import photo_of


def cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    paths = digit_paths(5, rng, style="two-stroke", height=0.7)
    canvas = render_strokes(paths, 280, 18, polarity="dark", rgba=True)
    opaque = render_strokes(paths, 280, 18, rgba=True)
    opaque[..., 3] = 255
    thick = render_strokes(digit_paths(8, rng, height=0.5), 280, 40)
    return {
        "280x280 RGBA canvas, transparent, brush 18": canvas,
        "280x280 RGBA canvas, opaque black": opaque,
        "280x280 grey canvas, brush 40 (thinned)": thick,
        "28x28 digit already in MNIST form": canvas_to_mnist(canvas),
        "1000x1000 RGB photo of paper": photo_of(render_strokes(paths, 280, 14), rng),
        "3000x4000 RGB phone photo": np.tile(
            photo_of(render_strokes(paths, 280, 14), rng, size=2000), (2, 2, 1)
        )[:3000],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="30 repeats")
    args = parser.parse_args()
    if args.quick:
        args.repeats = min(args.repeats, 30)
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}\n"
    )
    print("| input | median ms | p95 ms | full path median ms | full path p95 ms |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, image in cases().items():
        repeats = args.repeats if image.size < 5_000_000 else max(10, args.repeats // 10)
        cells = []
        for fast in (True, False):
            ms = timings_ms(
                lambda image=image, fast=fast: canvas_to_mnist(image, fast_path=fast), repeats
            )
            cells += [f"{np.median(ms):.2f}", f"{np.percentile(ms, 95):.2f}"]
        print(f"| {name} | {' | '.join(cells)} |", flush=True)


if __name__ == "__main__":
    main()
