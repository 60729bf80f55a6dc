"""Training: time to 99 % MNIST test accuracy, digitlab's recipes beside the seed's; images/s.

Three recipes in the same run, seed after seed, so their ratios are measured under
the same load:

- default: `model.train.train` with the default architecture's settings
  (`settings.DEFAULT_ARCHITECTURE`, its CUDA settings on CUDA), exactly as
  `run_model.py` trains it (55,000 training images and `style_share` of them in
  training people's style digits, drawn before the clock starts; the rest of MNIST
  validates, and its per-epoch validation stays on the clock). It is tuned for the
  best model, so on a CPU it takes minutes to 99 %: there it runs one seed unless
  `--default-seeds` asks for more (all of them on CUDA).
- fast: `run_model.py --recipe fast` (`model.config.RECIPES`), the quickest route to
  99 %.
- seed: the `cnn` architecture trained the way the seed project did (Adam, lr 1e-3,
  batch 64, a plain loop over a shuffled `DataLoader` of a `TensorDataset`, no
  augmentation, no schedule, all 60,000 training images). Pixels are converted to
  floats once up front, which is kinder to the seed than its per-sample transforms.

The clock runs while the network trains. Every `--eval-every` of an epoch it stops,
the network is copied, its BatchNorm statistics recomputed from clean digits (what
training does before it saves) and the copy scored on the MNIST test set; the time
to the first score >= the target is the figure. Test accuracy only decides when to
stop the clock: nothing is tuned on it. A run that has not reached the target after
`--cap-s` seconds of training stops and is reported as "> cap".

On CUDA the targets are 99.0 % and 99.5 %; on a CPU 99.0 % only. `--quick` uses a
lower target on 2,000 test digits, one seed and a short cap: it checks the machinery
and gives a rough rate, not the README figure.

Throughput: images per second of each architecture's default training step
(augmentation included), over `--steps` steps after a warm-up.

    python benchmarks/training.py [--quick] [--seeds 3] [--default-seeds N] [--cap-s 420]
"""

from __future__ import annotations

import argparse
import copy
import itertools
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    NO_CUDA,
    arguments,
    goal_verdict,
    load_test_mnist,
    machine,
    markdown_table,
    save_result,
)
from model.config import TrainConfig
from model.data import Mnist
from model.device import pick_device, to_device_tensor
from model.nets import ARCHITECTURES, build
from model.pipeline import with_style_digits
from model.train import (
    predict_logits,
    recalibrate_batchnorm,
    train,
)

SEED_RECIPE = {"arch": "cnn", "optimizer": "Adam", "lr": 1e-3, "batch_size": 64, "max_epochs": 14}
GOAL_CPU_S = 45.0  # issue 8: <= 45 s to 99.0 % on 2 cores
GOAL_SPEEDUP = 3.0  # and >= 3x faster than the seed recipe
GOAL_CUDA_S = {0.99: 1.0, 0.995: 10.0}  # on an H100


@dataclass
class TargetWatch:
    """The step hook: scores a copy of the network, notes when each target is first met."""

    targets: list[float]
    cap_s: float
    test_images: np.ndarray
    test_labels: np.ndarray
    train_pixels: torch.Tensor  # uint8 (N, 1, 28, 28) on the training device, for BatchNorm
    reached: dict[float, float] = field(default_factory=dict)  # target -> training seconds
    trace: list[tuple[int, float, float]] = field(default_factory=list)  # step, seconds, acc

    def __call__(self, net: nn.Module, step: int, seconds: float) -> bool:
        scored = copy.deepcopy(net)
        gen = torch.Generator(device=self.train_pixels.device).manual_seed(step)
        recalibrate_batchnorm(scored, self.train_pixels, gen, channels_last=False)
        logits = predict_logits(scored, self.test_images)
        accuracy = float((logits.argmax(1).numpy() == self.test_labels).mean())
        self.trace.append((step, round(seconds, 2), accuracy))
        for target in self.targets:
            if accuracy >= target and target not in self.reached:
                self.reached[target] = seconds
        return len(self.reached) == len(self.targets) or seconds >= self.cap_s

    def outcome(self, images_per_second: float) -> dict:
        return {
            "seconds_to": {f"{t:.3f}": self.reached.get(t) for t in self.targets},
            "best_accuracy": max((a for _, _, a in self.trace), default=None),
            "evaluations": self.trace,
            "images_per_second": round(images_per_second, 1),
        }


def run_recipe(mnist: Mnist, recipe: str, seed: int, watch_args: dict, eval_every: float) -> dict:
    """One of digitlab's `RECIPES`, trained as `run_model.py --recipe NAME` trains it."""
    config = TrainConfig.for_recipe(recipe, seed=seed)
    train_x, train_y, val_x, val_y = mnist.split()
    train_x, train_y = with_style_digits(train_x, train_y, config.style_share)
    device = pick_device(config.device)
    watch = TargetWatch(train_pixels=to_device_tensor(train_x, device), **watch_args)
    steps_per_epoch = -(-len(train_y) // config.batch_size)
    result = train(
        config,
        train_x,
        train_y,
        val_x,
        val_y,
        progress=False,
        hook=watch,
        hook_every=max(1, round(steps_per_epoch * eval_every)),
    )
    steps = watch.trace[-1][0] if watch.trace else steps_per_epoch * config.epochs
    return watch.outcome(steps * config.batch_size / result.seconds)


def run_seed_recipe(mnist: Mnist, seed: int, watch_args: dict, eval_every: float) -> dict:
    """The seed's loop, timed the same way: evaluation off the clock, training on it."""
    device = pick_device("auto")
    torch.manual_seed(seed)
    net = build(SEED_RECIPE["arch"]).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=SEED_RECIPE["lr"])
    images = torch.tensor(mnist.train_images).unsqueeze(1).float().div_(255)
    labels = torch.from_numpy(mnist.train_labels.astype(np.int64))
    loader = DataLoader(
        TensorDataset(images, labels),
        batch_size=SEED_RECIPE["batch_size"],
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    watch = TargetWatch(train_pixels=to_device_tensor(mnist.train_images, device), **watch_args)
    every = max(1, round(len(loader) * eval_every))
    clock, step, stop = 0.0, 0, False
    for _ in range(SEED_RECIPE["max_epochs"]):
        net.train()
        started = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            optimizer.step()
            step += 1
            if step % every == 0:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                clock += time.perf_counter() - started
                stop = watch(net, step, clock)
                net.train()
                started = time.perf_counter()
                if stop:
                    break
        if stop:
            break
        clock += time.perf_counter() - started
    return watch.outcome(step * SEED_RECIPE["batch_size"] / clock)


def throughput(mnist: Mnist, arch: str, warmup: int, steps: int) -> float:
    """Images per second of `arch`'s default training step, measured between two steps."""
    config = TrainConfig.for_arch(arch)
    needed = (warmup + steps + 1) * config.batch_size
    config = replace(config, epochs=-(-needed // len(mnist.train_labels)))
    marks: dict[int, float] = {}

    def mark(_net: nn.Module, step: int, seconds: float) -> bool:
        marks[step] = seconds
        return step >= warmup + steps

    x, y = mnist.train_images[:needed], mnist.train_labels[:needed]
    train(config, x, y, x[:100], y[:100], progress=False, hook=mark, hook_every=1)
    return steps * config.batch_size / (marks[warmup + steps] - marks[warmup])


def _seconds_cell(values: list[float | None], cap_s: float) -> str:
    if any(v is None for v in values):
        reached = [v for v in values if v is not None]
        return f"> {cap_s:.0f} s in {len(values) - len(reached)} of {len(values)} seeds" + (
            f" (reached: {', '.join(f'{v:.0f}' for v in reached)} s)" if reached else ""
        )
    each = ", ".join(f"{v:.1f}" for v in values)
    return f"{np.mean(values):.1f} s (median {np.median(values):.1f}; seeds: {each})"


def mean_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else float(np.mean(values))


def recipe_line(config: TrainConfig) -> str:
    style = f", {config.style_share:.0%} style digits" if config.style_share else ""
    stretch = f", widths stretched up to {config.stretch:g}x" if config.stretch != 1 else ""
    return (f"{config.arch}: AdamW one-cycle lr {config.lr:g}, batch {config.batch_size}, "
            f"{'augmentation' if config.augment else 'no augmentation'}{stretch}{style}, "
            f"{config.epochs} epochs planned")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What one run measures: targets, sizes and seeds (smaller with `--quick`)."""

    cuda: bool
    quick: bool
    targets: list[float]
    test_digits: int
    seeds: int
    default_seeds: int
    cap_s: float
    eval_every: float
    steps: int
    warmup: int

    @property
    def fast_every(self) -> float:
        """The fast recipe's few epochs are scored more often, or the clock would overshoot."""
        return min(self.eval_every, 0.1)


def plan_from(args: argparse.Namespace, cuda: bool) -> Plan:
    # The default recipe takes minutes per seed on a CPU: one seed shows where it stands.
    default_seeds = (args.seeds if cuda else 1) if args.default_seeds < 0 else args.default_seeds
    plan = Plan(
        cuda=cuda,
        quick=args.quick,
        targets=[0.99, 0.995] if cuda else [0.99],
        test_digits=10_000,
        seeds=args.seeds,
        default_seeds=min(default_seeds, args.seeds),
        cap_s=args.cap_s,
        eval_every=args.eval_every,
        steps=args.steps,
        warmup=20,
    )
    if not args.quick:
        return plan
    return replace(  # smaller still where the command line asks for less
        plan,
        targets=[0.97],
        test_digits=2_000,
        seeds=min(plan.seeds, 1),
        default_seeds=min(plan.default_seeds, 1),
        cap_s=min(plan.cap_s, 40.0),
        eval_every=min(plan.eval_every, 0.05),
        steps=min(plan.steps, 20),
        warmup=5,
    )


def run_recipes(mnist: Mnist, plan: Plan) -> dict[str, list[dict]]:
    """Every recipe's runs, seed after seed, so that all of them see the same load."""
    watch_args = {
        "targets": plan.targets,
        "cap_s": plan.cap_s,
        "test_images": mnist.test_images[: plan.test_digits],
        "test_labels": mnist.test_labels[: plan.test_digits],
    }
    runs: dict[str, list[dict]] = {"default": [], "fast": [], "seed": []}
    for seed in range(plan.seeds):
        if seed < plan.default_seeds:
            runs["default"].append(run_recipe(mnist, "default", seed, watch_args, plan.eval_every))
        runs["fast"].append(run_recipe(mnist, "fast", seed, watch_args, plan.fast_every))
        runs["seed"].append(run_seed_recipe(mnist, seed, watch_args, plan.eval_every))
        print(f"seed {seed}: " + "; ".join(
            f"{name} {r[-1]['seconds_to']}" for name, r in runs.items() if len(r) > seed
        ), flush=True)  # fmt: skip
    return runs


def recipe_settings() -> dict[str, str]:
    return {
        "default": recipe_line(TrainConfig.for_recipe("default")),
        "fast": recipe_line(TrainConfig.for_recipe("fast")),
        "seed": f"cnn: Adam lr {SEED_RECIPE['lr']:g}, batch {SEED_RECIPE['batch_size']}, "
        "DataLoader, no augmentation",
    }


def time_table(
    runs: dict[str, list[dict]], plan: Plan, settings: dict[str, str]
) -> tuple[str, dict[str, float | None]]:
    """The table of times to each target, and each recipe's mean seconds by target."""
    rows, summary = [], {}
    names = {"default": "default", "fast": "`--recipe fast`", "seed": "seed"}
    for (recipe, results), target in itertools.product(runs.items(), plan.targets):
        key = f"{target:.3f}"
        values = [r["seconds_to"][key] for r in results]
        summary[f"{recipe}@{key}"] = mean_or_none(values)
        rows.append(
            [
                names[recipe],
                settings[recipe],
                f"{target:.1%}",
                _seconds_cell(values, plan.cap_s),
                f"{max(r['best_accuracy'] or 0 for r in results):.2%}",
                f"{np.median([r['images_per_second'] for r in results]):,.0f}",
            ]
        )
    headers = ["recipe", "settings", "target", "training time to target"]
    return markdown_table([*headers, "best test accuracy", "images/s"], rows), summary


def speedups_over_seed(summary: dict[str, float | None], plan: Plan) -> dict[str, float | None]:
    first = f"{plan.targets[0]:.3f}"
    seed_s = summary[f"seed@{first}"]
    return {
        r: (seed_s / summary[f"{r}@{first}"] if summary[f"{r}@{first}"] and seed_s else None)
        for r in ("default", "fast")
    }


def goal_lines(
    summary: dict[str, float | None],
    speedups: dict[str, float | None],
    plan: Plan,
    cores: int,
) -> list[str]:
    """One line per goal: the speed-ups over the seed, then the CPU or the CUDA times."""
    lines = [
        f"- seed recipe / {recipe} recipe to {plan.targets[0]:.1%}: "
        f"{'n/a (a recipe missed the target)' if speedup is None else f'{speedup:.2f}x'} "
        f"({goal_verdict(speedup, GOAL_SPEEDUP, lower_is_better=False)})"
        for recipe, speedup in speedups.items()
    ]
    missed = f"missed (not all seeds within {plan.cap_s:.0f} s)"
    if plan.cuda:
        for recipe, (target, goal) in itertools.product(("default", "fast"), GOAL_CUDA_S.items()):
            value = summary.get(f"{recipe}@{target:.3f}")
            verdict = goal_verdict(value, goal) if value else missed
            lines.append(f"- CUDA, {recipe} recipe to {target:.1%}: {verdict}")
        return lines
    quick_note = " (quick run: lower target)" if plan.quick else ""
    for recipe in ("default", "fast"):
        value = summary[f"{recipe}@{plan.targets[0]:.3f}"]
        verdict = goal_verdict(value, GOAL_CPU_S) if value else missed
        lines.append(
            f"- {recipe} recipe to {plan.targets[0]:.1%} on {cores} cores: {verdict}{quick_note}"
        )
    lines.append(
        "- CUDA (99.0 % <= 1 s, 99.5 % <= 10 s on an H100): none here; run this script "
        "on a CUDA machine for `training_cuda.json`"
    )
    return lines


def throughput_lines(per_arch: dict[str, float], plan: Plan) -> list[str]:
    rows = [
        [a, TrainConfig.for_arch(a).batch_size, f"{v:,.0f}", f"{55_000 / v:.0f}"]
        for a, v in per_arch.items()
    ]
    return [
        "",
        f"Training throughput, default step of each architecture ({plan.steps} steps after "
        f"{plan.warmup} warm-up):\n",
        markdown_table(["architecture", "batch", "images/s", "seconds per 55,000 images"], rows),
    ]


def main(argv: list[str] | None = None) -> dict:
    args = arguments(
        __doc__, argv, seeds=3, default_seeds=-1, cap_s=420.0, eval_every=0.25, steps=200
    )
    info = machine()
    mnist = load_test_mnist()
    plan = plan_from(args, torch.cuda.is_available())
    runs = run_recipes(mnist, plan)
    settings = recipe_settings()
    table, summary = time_table(runs, plan, settings)
    speedups = speedups_over_seed(summary, plan)
    device_name = info["gpu"] or f"{info['cores']} CPU cores"
    seeds_note = f"{plan.seeds} seed(s)" + (
        f" ({plan.default_seeds} for the default recipe)"
        if plan.default_seeds != plan.seeds
        else ""
    )
    per_arch = {a: throughput(mnist, a, plan.warmup, plan.steps) for a in ARCHITECTURES}
    lines = [
        f"Time to MNIST test accuracy >= target on {device_name}, mean over {seeds_note}, "
        f"evaluated every {plan.eval_every:g} epoch ({plan.fast_every:g} for the fast recipe) "
        f"on {plan.test_digits:,} test digits (evaluation off the clock).\n",
        table,
        "",
        *goal_lines(summary, speedups, plan, info["cores"]),
        *throughput_lines(per_arch, plan),
    ]
    data = {
        "targets": plan.targets,
        "seeds": plan.seeds,
        "cap_s": plan.cap_s,
        "eval_every_epoch": plan.eval_every,
        "test_digits": plan.test_digits,
        "recipes": settings,
        "runs": runs,
        "mean_seconds": summary,
        "default_seeds": plan.default_seeds,
        "speedup_seed_over": speedups,
        "throughput_images_per_second": per_arch,
        "cuda": "measured" if plan.cuda else NO_CUDA,
    }
    name = "training_cuda" if plan.cuda else "training"
    save_result(name, data, "\n".join(lines), quick=plan.quick, info=info)
    return data


if __name__ == "__main__":
    main()
