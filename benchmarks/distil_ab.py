"""Do teachers help real writers? Full trainings with and without distillation.

The default's recipe on labels alone, as it trains today, against the same recipe
whose targets mix the labels with the teachers' reading (`TrainConfig.teachers`,
`model.distil`): each arm trained from scratch on this device from the same seeds,
calibrated and measured as its command does (`style_ab.from_scratch`), then read on
optdigits' 13 writers by halves, its 30 other writers and every writer never looked
at (forms 7-13 and the 30), on the proxy's held-out styles and MNIST validation, plus
the held-out styles' unsure share, the non-digits flagged and the unsure share of
every writer never looked at (what README's real-unsure estimate rests on). About 35
minutes a seed on 2 CPU cores, so one seed unless asked; minutes on a GPU, where
`--jobs` trains several at once (the arms of a seed side by side). `--add` keeps the
seeds of the saved run of the same comparison, so that pairs measured a seed or two at
a time on a CPU add up to the ten that would decide it.

    python benchmarks/distil_ab.py [--quick] [--seeds 1] [--first-seed 0] [--jobs 1]
                                   [--teachers cnn,lenet5,mlp] [--teacher-weight 0.5] [--add]
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import style_ab
from benchmarks._common import (
    RESULTS_DIR,
    arguments,
    command_line,
    load_test_mnist,
    machine,
    markdown_table,
    save_result,
)
from model.config import TrainConfig
from model.data import Mnist
from model.predictor import Predictor

LABELS_ALONE = "labels alone"
NEVER_LOOKED_AT = "every writer never looked at"
EXTRA = (*style_ab.FULL_EXTRA, f"{NEVER_LOOKED_AT}: unsure")
TEACHERS = "cnn,lenet5,mlp"


def measured_sets(quick: bool, mnist: Mnist) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`style_ab.measured_sets` with no candidate digits, whose "other digits" are then
    every writer never looked at."""
    sets = style_ab.measured_sets(quick, mnist, [])
    return {NEVER_LOOKED_AT if name == style_ab.OTHER_DIGITS else name: value
            for name, value in sets.items()}  # fmt: skip


def readings(predictor: Predictor, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[float]:
    """`style_ab.readings`, then the share of every writer never looked at flagged unsure."""
    return style_ab.readings(predictor, sets, also_unsure=(NEVER_LOOKED_AT,))


def arms(
    recipe: TrainConfig, teachers: str, weight: float = TrainConfig.teacher_weight
) -> dict[str, TrainConfig]:
    """`recipe` on labels alone, and taught by `teachers` ("a,b") at `weight`."""
    names = tuple(name for name in teachers.split(",") if name)
    if not names:
        raise SystemExit("error: --teachers names no saved model (e.g. --teachers cnn,mlp)")
    try:
        taught = replace(recipe, teachers=names, teacher_weight=weight)
    except ValueError as err:
        raise SystemExit(f"error: --teacher-weight: {err}") from None
    at = "" if weight == TrainConfig.teacher_weight else f" at weight {weight:g}"
    return {LABELS_ALONE: replace(recipe, teachers=()), f"taught by {', '.join(names)}{at}": taught}


def earlier_seeds(
    saved: Path, comparison: dict[str, Any]
) -> tuple[dict[str, dict[int, list[float]]], list[str]]:
    """The readings, by arm and seed, of the run saved in `saved`, and the commands of
    every run joined in it; refused, before anything trains, when it compared other
    things. `comparison`: the teachers, their weight, the sets read and the GPU (None
    on a CPU, whose recipe differs)."""
    if not saved.is_file():
        raise SystemExit(f"error: --add: no earlier run in {saved}; run without --add first")
    record = json.loads(saved.read_text())
    results = record["results"]
    earlier = {
        "quick": record["quick"],
        "teachers": results["teachers"],
        "teacher_weight": results.get("teacher_weight", TrainConfig.teacher_weight),
        "sets": results["sets"],
        "gpu": record["machine"]["gpu"],
    }
    differs = [key for key, want in {"quick": False, **comparison}.items() if earlier[key] != want]
    if differs:
        was = ", ".join(f"{key} {earlier[key]!r}" for key in differs)
        raise SystemExit(f"error: --add: {saved} compared another {was}; run without --add")
    arms = {arm: {int(seed): read for seed, read in by_seed.items()}
            for arm, by_seed in results["arms"].items()}  # fmt: skip
    return arms, list(results.get("runs", [record["command"]]))


def joined(
    earlier: dict[str, dict[int, list[float]]], today: dict[str, dict[int, list[float]]]
) -> dict[str, dict[int, list[float]]]:
    """Each of today's arms with the earlier run's seeds too, in seed order; a seed
    measured again keeps today's pair."""
    return {
        arm: dict(sorted({**earlier.get(arm, {}), **by_seed}.items()))
        for arm, by_seed in today.items()
    }


def main(argv: list[str] | None = None) -> dict:
    args = arguments(
        __doc__, argv, seeds=1, first_seed=0, jobs=1, teachers=TEACHERS,
        teacher_weight=TrainConfig.teacher_weight, add=False,
    )  # fmt: skip
    if args.add and args.quick:
        raise SystemExit("error: --add joins full runs only; a quick run checks the machinery")
    info = machine()
    mnist = load_test_mnist()
    sets = measured_sets(args.quick, mnist)
    columns = [*sets, *EXTRA]
    comparison = {"teachers": args.teachers, "teacher_weight": args.teacher_weight}
    earlier, runs = {}, []
    if args.add:
        same = {**comparison, "sets": columns, "gpu": info["gpu"]}
        earlier, runs = earlier_seeds(RESULTS_DIR / "distil_ab.json", same)
    default, recipe = style_ab.card_recipe(args.quick)
    compared = arms(recipe, args.teachers, args.teacher_weight)
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    trained = partial(style_ab.from_scratch, mnist=mnist, sets=sets, read=readings)
    read = style_ab.read_by_seed(
        {arm: partial(trained, config) for arm, config in compared.items()}, seeds, args.jobs
    )
    read = joined(earlier, read)
    rows = style_ab.table_rows("default model, not retrained", readings(default, sets), read)
    runs.append(command_line())
    data = {**comparison, "sets": columns, "arms": read, "rows": rows, "runs": runs}
    markdown = markdown_table(["targets", "seed", *columns], rows)
    save_result("distil_ab", data, markdown, quick=args.quick, info=info)
    return data


if __name__ == "__main__":
    main()
