"""Do teachers help real writers? Full trainings with and without distillation.

The default's recipe, whose targets mix the labels with the teachers' reading
(`TrainConfig.teachers`, `model.distil`), against the same recipe on labels alone:
each arm trained from scratch on this device from the same seeds, calibrated and
measured as its command does (`style_ab.from_scratch`), then read on optdigits' 13
writers by halves, its 30 other writers and every writer never looked at (forms 7-13
and the 30), on the proxy's held-out styles and MNIST validation, plus the held-out
styles' unsure share and the non-digits flagged. About half an hour a seed on 2 CPU
cores; minutes on a GPU.

    python benchmarks/distil_ab.py [--quick] [--seeds 3] [--first-seed 0]
                                   [--teachers cnn,lenet5,mlp]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import MORE_PEOPLE, arguments, load_test_mnist, markdown_table, save_result
from benchmarks._optdigits import (
    OTHER_WRITERS,
    halves,
    never_looked_at,
    other_writers,
    real_writers,
)
from benchmarks.style_ab import FULL_EXTRA, from_scratch, readings
from model.config import TrainConfig
from model.data import Mnist
from model.predictor import Predictor, resolve_model_path
from model.robustness import PROXY_PEOPLE, proxy_digits

LABELS_ALONE = "labels alone"


def measured_sets(quick: bool, mnist: Mnist) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    images, labels, form = real_writers()
    sets = {name: (images[chosen], labels[chosen]) for name, chosen in halves(form).items()}
    sets[f"{OTHER_WRITERS} other writers"] = other_writers()
    sets["every writer never looked at"] = never_looked_at()
    styles = proxy_digits(
        "held-out styles", PROXY_PEOPLE if quick else MORE_PEOPLE, start=PROXY_PEOPLE
    )
    sets["held-out styles"] = (styles.images, styles.labels)
    _, _, val_x, val_y = mnist.split()
    sets["MNIST validation"] = (val_x, val_y)
    return sets


def arms(recipe: TrainConfig, teachers: str) -> dict[str, TrainConfig]:
    """Labels alone, and `recipe` with `teachers` ("a,b"; empty: the recipe's own)."""
    taught = replace(recipe, teachers=tuple(teachers.split(","))) if teachers else recipe
    if not taught.teachers:
        raise SystemExit(f"error: {recipe.arch}'s recipe has no teachers: name some (--teachers)")
    taught_arm = f"taught by {', '.join(taught.teachers)}"
    return {LABELS_ALONE: replace(recipe, teachers=()), taught_arm: taught}


def main(argv: list[str] | None = None) -> dict:
    args = arguments(__doc__, argv, seeds=3, first_seed=0, teachers="")
    mnist = load_test_mnist()
    sets = measured_sets(args.quick, mnist)
    default = Predictor.load(resolve_model_path(None), inference="eager")
    limits = {"limit": 2_000, "epochs": 1} if args.quick else {}
    recipe = TrainConfig.for_recipe("default", default.card.architecture, **limits)
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    compared = arms(recipe, args.teachers)
    read: dict[str, dict[int, list[float]]] = {arm: {} for arm in compared}
    for seed in seeds:  # a pair at a time, under the same load
        for arm, config in compared.items():
            read[arm][seed] = from_scratch(config, seed, mnist, sets)
    rows = [["default model, not retrained", "", *map(_percent, readings(default, sets))]]
    for arm, by_seed in read.items():
        rows += [[arm, str(seed), *map(_percent, values)] for seed, values in by_seed.items()]
        rows.append([arm, "mean", *map(_percent, np.mean(list(by_seed.values()), axis=0))])
    columns = [*sets, *FULL_EXTRA]
    data = {"sets": columns, "arms": read, "rows": rows}
    markdown = markdown_table(["targets", "seed", *columns], rows)
    save_result("distil_ab", data, markdown, quick=args.quick)
    return data


def _percent(share: float) -> str:
    return f"{share:.2%}"


if __name__ == "__main__":
    main()
