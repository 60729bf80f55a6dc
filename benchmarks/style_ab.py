"""Does a handwriting style help real writers? One-epoch fine-tunes with and without it.

A candidate style (`handwriting.CANDIDATE_VARIANTS`) is modelled on optdigits' forms
that may be looked at; this says whether it reaches the forms never looked at, beyond
what a seed alone moves. From the same seeds, the default model is fine-tuned for one
epoch over training people's digits with MNIST replayed beside them: once as they
write today, once with the candidates joining their vocabulary. Each network reads
optdigits' 13 writers by halves and its 30 other writers; every writer never looked at
(both halves' second and the 30) also split into the candidates' digits and the others
(a style can win its own digit and cost another); the proxy's held-out styles and
MNIST's validation split. More seeds extend a run: `--first-seed 6`; `--jobs 2` runs
two trainings at once.

A style that passes is then judged by full trainings (`--train full`, a GPU's work):
the card's recipe on this device from scratch, each arm from the same seeds,
calibrated and measured as its command does, read on the same sets plus the held-out
styles' unsure share and the non-digits flagged (results/bench/style_ab_full.json).

    python benchmarks/style_ab.py [--quick] [--seeds 3] [--first-seed 3] [--jobs 1]
                                  [--candidates 9:flat-foot,...] [--train full]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    MORE_PEOPLE,
    arguments,
    in_processes,
    load_test_mnist,
    machine,
    markdown_table,
    save_result,
)
from benchmarks._optdigits import (
    OTHER_WRITERS,
    halves,
    never_looked_at,
    other_writers,
    real_writers,
)
from model import handwriting
from model.checkpoint import load_checkpoint
from model.config import TrainConfig
from model.data import Mnist
from model.finetune import FinetuneConfig, make_challenger
from model.pipeline import train_and_save
from model.predictor import Predictor, resolve_model_path
from model.robustness import PROXY_PEOPLE, proxy_digits
from model.train import predict_logits

WEIGHT = 3.0  # a candidate's weight among its digit's variants (low-stem's)
FIRST_SEED = 3
TRAININGS = ("fine-tune", "full")
# What a full training reads beyond the accuracy on each set.
FULL_EXTRA = ("held-out styles unsure", "non-digits flagged")
AS_TODAY, WITH_CANDIDATES = "as today", "with the candidates"
OTHER_DIGITS = "their other digits"  # writers never looked at, but for the candidates' digits
# What a full training's network is read for: (predictor, sets) -> figures.
Reader = Callable[[Predictor, dict[str, tuple[np.ndarray, np.ndarray]]], list[float]]


def chosen_candidates(named: str) -> list[tuple[int, str]]:
    """(digit, variant) for "9:flat-foot,4:curved-arm"; every candidate when empty."""
    every = [(d, name) for d, names in handwriting.CANDIDATE_VARIANTS.items() for name in names]
    if not named:
        return every
    chosen = [(int(d), name) for d, _, name in (item.partition(":") for item in named.split(","))]
    unknown = [f"{d}:{name}" for d, name in chosen if (d, name) not in every]
    if unknown:
        known = ", ".join(f"{d}:{name}" for d, name in every)
        raise SystemExit(f"error: not a candidate: {', '.join(unknown)} (candidates: {known})")
    return chosen


@contextmanager
def candidates_written(added: list[tuple[int, str]], weight: float = WEIGHT) -> Iterator[None]:
    """Training and held-out people write `added` (digit, variant) too, in the block."""
    vocabulary = handwriting.VARIANT_WEIGHTS
    for digit, name in added:
        vocabulary[digit][name] = weight
    try:
        yield
    finally:
        for digit, name in added:
            del vocabulary[digit][name]


def real_writer_sets(digits: list[int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """optdigits' 13 writers by halves and its 30 other writers, then every writer never
    looked at split into the candidates' `digits` (where a candidate should tell) and
    the other digits (where it may cost)."""
    images, labels, form = real_writers()
    sets = {name: (images[chosen], labels[chosen]) for name, chosen in halves(form).items()}
    sets[f"{OTHER_WRITERS} other writers"] = other_writers()
    images, labels = never_looked_at()
    for digit in sorted(set(digits)):
        sets[f"their {digit}s"] = (images[labels == digit], labels[labels == digit])
    others = ~np.isin(labels, digits)
    sets[OTHER_DIGITS] = (images[others], labels[others])
    return sets


def measured_sets(
    quick: bool, mnist: Mnist, digits: list[int]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """What each network reads: optdigits (`real_writer_sets`), held-out styles beyond
    the card's people, MNIST validation."""
    sets = real_writer_sets(digits)
    styles = proxy_digits(
        "held-out styles", PROXY_PEOPLE if quick else MORE_PEOPLE, start=PROXY_PEOPLE
    )
    sets["held-out styles"] = (styles.images, styles.labels)
    _, _, val_x, val_y = mnist.split()
    sets["MNIST validation"] = (val_x, val_y)
    return sets


def finetuned(
    base: nn.Module, recipe: TrainConfig, seed: int, replay: tuple[np.ndarray, np.ndarray]
) -> nn.Module:
    """`base` after one epoch over `replay` (MNIST training images, labels) and training
    people's digits (their drawings `seed`), as people write them now, in the share and
    with the stretch that `base` was trained with (`recipe`)."""
    count = round(recipe.style_share * len(replay[1]))
    style = handwriting.training_digits(count, handwriting.default_cache_dir(), seed=seed)
    config = FinetuneConfig(
        epochs=1, replay=1 / recipe.style_share, base_share=0.0, seed=seed, stretch=recipe.stretch
    )
    return make_challenger(base, (style.images, style.labels), replay, config, progress=False)


def accuracies(net: nn.Module, sets: dict[str, tuple[np.ndarray, np.ndarray]]) -> list[float]:
    return [
        float((predict_logits(net, images).argmax(1).numpy() == labels).mean())
        for images, labels in sets.values()
    ]


def readings(
    predictor: Predictor,
    sets: dict[str, tuple[np.ndarray, np.ndarray]],
    also_unsure: tuple[str, ...] = (),
) -> list[float]:
    """Accuracy on each set, then `FULL_EXTRA`: the held-out styles' unsure share and
    the non-digits its card flags; then the unsure share of each set in `also_unsure`."""
    scored = {name: predictor.score_batch(images) for name, (images, _) in sets.items()}
    read = [float((scored[n].probabilities.argmax(1) == y).mean()) for n, (_, y) in sets.items()]
    unsure = float(scored["held-out styles"].unsure.mean())
    extra = [float(scored[name].unsure.mean()) for name in also_unsure]
    return [*read, unsure, float(predictor.card.unsure_report.non_digits_flagged), *extra]


def from_scratch(
    recipe: TrainConfig,
    seed: int,
    mnist: Mnist,
    sets: dict[str, tuple[np.ndarray, np.ndarray]],
    read: Reader = readings,
) -> list[float]:
    """`recipe` trained from scratch from `seed`, calibrated and measured as the card's
    command does: what `read` finds on `sets`."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        config = replace(recipe, seed=seed)
        command = f"benchmarks/style_ab.py --train full (seed {seed})"
        train_and_save(config, mnist, out, out / "results", command, progress=False)
        trained = Predictor.load(out / f"{config.arch}.pt", inference="eager")
        return read(trained, sets)


def card_recipe(quick: bool) -> tuple[Predictor, TrainConfig]:
    """The committed default, and the recipe on its card on this device (its CUDA variant
    on CUDA): one epoch of 2,000 images when `quick`."""
    default = Predictor.load(resolve_model_path(None), inference="eager")
    limits = {"limit": 2_000, "epochs": 1} if quick else {}
    return default, TrainConfig.for_recipe("default", default.card.architecture, **limits)


def read_by_seed(
    arms: dict[str, Callable[[int], list[float]]], seeds: range, jobs: int
) -> dict[str, dict[int, list[float]]]:
    """Each arm's readings from each seed; a seed's arms start together, one after the
    other or side by side (`jobs`), so that a pair runs under the same load."""
    calls = {(arm, seed): partial(read, seed) for seed in seeds for arm, read in arms.items()}
    done = in_processes(calls, jobs)
    return {arm: {seed: done[arm, seed] for seed in seeds} for arm in arms}


def arm_reader(
    training: str, quick: bool, mnist: Mnist, sets: dict[str, tuple[np.ndarray, np.ndarray]]
) -> tuple[Callable[[int], list[float]], list[float]]:
    """(seed -> one arm's readings on `sets`, the committed default's readings); the
    first pickles, so that arms can run in processes of their own (`--jobs`)."""
    if training == "full":
        default, recipe = card_recipe(quick)
        return partial(from_scratch, recipe, mnist=mnist, sets=sets), readings(default, sets)
    base, card = load_checkpoint(resolve_model_path(None))
    train_x, train_y, _, _ = mnist.split()
    images = 2_000 if quick else len(train_y)
    replay = (train_x[:images], train_y[:images])
    recipe = card.config or TrainConfig.for_arch(card.architecture, device="cpu")
    tuned = partial(finetuned_accuracies, base, recipe, replay=replay, sets=sets)
    return tuned, accuracies(base, sets)


def finetuned_accuracies(
    base: nn.Module,
    recipe: TrainConfig,
    seed: int,
    replay: tuple[np.ndarray, np.ndarray],
    sets: dict[str, tuple[np.ndarray, np.ndarray]],
) -> list[float]:
    return accuracies(finetuned(base, recipe, seed, replay), sets)


def read_with_candidates(
    added: list[tuple[int, str]], reading: Callable[[int], list[float]], seed: int
) -> list[float]:
    """`reading(seed)` while people write the `added` candidates too."""
    with candidates_written(added):
        return reading(seed)


def main(argv: list[str] | None = None) -> dict:
    args = arguments(
        __doc__, argv, seeds=3, first_seed=FIRST_SEED, candidates="", train="fine-tune", jobs=1
    )
    full = args.train == "full"
    if args.train not in TRAININGS:
        raise SystemExit(f"error: --train {args.train}: choose one of {', '.join(TRAININGS)}")
    added = chosen_candidates(args.candidates)
    info = machine()
    seeds = range(args.first_seed, args.first_seed + (1 if args.quick else args.seeds))
    mnist = load_test_mnist()
    sets = measured_sets(args.quick, mnist, [d for d, _ in added])  # before they are written
    reading, default = arm_reader(args.train, args.quick, mnist, sets)
    written = {AS_TODAY: [], WITH_CANDIDATES: added}
    arms = read_by_seed(
        {arm: partial(read_with_candidates, them, reading) for arm, them in written.items()},
        seeds,
        args.jobs,
    )
    rows = table_rows(f"default model, not {'retrained' if full else 'fine-tuned'}", default, arms)
    candidates = ", ".join(f"{d}: {name}" for d, name in added)
    columns = [*sets, *(FULL_EXTRA if full else ())]
    data = {
        "candidates": candidates, "training": args.train, "sets": columns, "arms": arms,
        "rows": rows,
    }  # fmt: skip
    header = ["full training" if full else "fine-tune", "seed", *columns]
    markdown = f"Candidates: {candidates}.\n\n" + markdown_table(header, rows)
    name = "style_ab_full" if full else "style_ab"
    save_result(name, data, markdown, quick=args.quick, info=info)
    return data


def table_rows(
    default_row: str, default: list[float], arms: dict[str, dict[int, list[float]]]
) -> list[list[str]]:
    """The committed default's readings, then each arm seed by seed and its mean."""
    rows = [[default_row, "", *map(_percent, default)]]
    for arm, by_seed in arms.items():
        rows += [[arm, str(seed), *map(_percent, read)] for seed, read in by_seed.items()]
        rows.append([arm, "mean", *map(_percent, np.mean(list(by_seed.values()), axis=0))])
    return rows


def _percent(share: float) -> str:
    return f"{share:.2%}"


if __name__ == "__main__":
    main()
