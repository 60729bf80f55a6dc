"""MNIST's own form, measured, and how closely `canvas_to_mnist` keeps it.

The constants in model/preprocess.py come from here: the size of the digit's box,
where its centre of mass sits, and the stroke width at 28 x 28 (ink area / skeleton
length at 3x resolution, `model.preprocess.stroke_width`). The second table passes
MNIST digits, already in MNIST form, through `canvas_to_mnist` and reports how much
they change: only stroke widths outside MNIST's interquartile range (and its
tolerance) should.

    python benchmarks/mnist_form.py [--limit 60000] [--quick]
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.preprocess import FIT_TOLERANCE, UNCHANGED_WIDTHS, canvas_to_mnist, stroke_width
from model.synthetic import shifted_correlation
from settings import REPO_ROOT, get_settings


def read_images(name: str) -> np.ndarray:
    """IDX images from MNIST_DIR or the shared copy (header: 16 bytes)."""
    folder = get_settings().mnist_dir or REPO_ROOT.parent / "shared" / "datasets" / "mnist"
    with gzip.open(folder / f"{name}-images-idx3-ubyte.gz") as file:
        return np.frombuffer(file.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)


def box_side(image: np.ndarray) -> int:
    rows, cols = np.flatnonzero(image.any(1)), np.flatnonzero(image.any(0))
    return int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=60_000, help="digits per set")
    parser.add_argument("--quick", action="store_true", help="the first 2,000 digits only")
    args = parser.parse_args()
    if args.quick:
        args.limit = min(args.limit, 2_000)
    sets = ["train", "t10k"]  # the constants come from the training set

    print(
        "| set | digits | box side 20 px | centre of mass (row, col) +- std | "
        "stroke width p10 / p25 / median / p75 / p90 |"
    )
    print("| --- | ---: | ---: | --- | --- |")
    for name in sets:
        images = read_images(name)[: args.limit]
        sides = np.array([box_side(image) for image in images])
        coms = np.array([ndimage.center_of_mass(image.astype(float)) for image in images])
        widths = np.array([stroke_width(image) for image in images])
        p = np.percentile(widths, [10, 25, 50, 75, 90])
        print(
            f"| {name} | {len(images)} | {np.mean(sides == 20):.1%} | "
            f"({coms[:, 0].mean():.2f}, {coms[:, 1].mean():.2f}) +- "
            f"({coms[:, 0].std():.2f}, {coms[:, 1].std():.2f}) | "
            f"{' / '.join(f'{v:.2f}' for v in p)} |",
            flush=True,
        )

    images = read_images("t10k")[: args.limit]
    low, high = UNCHANGED_WIDTHS
    near, far = f"width within {FIT_TOLERANCE} px of range", "width farther out"
    rows = {"all": [], near: [], far: []}
    for image in images:
        out = canvas_to_mnist(image)
        diff = np.abs(out.astype(float) - image).mean()
        figures = (
            diff,
            float(np.corrcoef(out.ravel(), image.ravel())[0, 1]),
            shifted_correlation(image, out),
            float(np.array_equal(out, image)),
        )
        rows["all"].append(figures)
        inside = low <= stroke_width(image) <= high
        rows[near if inside else far].append(figures)
    print("\nMNIST test digits through canvas_to_mnist (idempotence):\n")
    print(
        "| digits | n | mean abs diff (of 255) | mean correlation | "
        "mean correlation, +-1 px | identical |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, figures in rows.items():
        f = np.array(figures)
        print(
            f"| {label} | {len(f)} | {f[:, 0].mean():.2f} | {f[:, 1].mean():.3f} | "
            f"{f[:, 2].mean():.3f} | {f[:, 3].mean():.1%} |"
        )


if __name__ == "__main__":
    main()
