"""Training: time to 99 % MNIST test accuracy, digitlab's recipes beside the seed's; images/s.

Three recipes in the same run, seed after seed, so their ratios are measured under
the same load:

- default: `model.train.train` with the default architecture's settings
  (`settings.DEFAULT_ARCHITECTURE`, its CUDA settings on CUDA), exactly as
  `run_model.py` trains it (55,000 training images, the rest validates; its
  per-epoch validation stays on the clock). It is tuned for the best model, so on a
  CPU it takes minutes to 99 %: there it runs one seed unless `--default-seeds` asks
  for more (all of them on CUDA).
- fast: `run_model.py --recipe fast` (`RECIPES["fast"]`: LeNet-5, four epochs, no
  augmentation), the quickest route to 99 % on a CPU.
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
    images = torch.from_numpy(mnist.train_images).unsqueeze(1).float().div_(255)
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
    return (f"{config.arch}: AdamW one-cycle lr {config.lr:g}, batch {config.batch_size}, "
            f"{'augmentation' if config.augment else 'no augmentation'}, "
            f"{config.epochs} epochs planned")  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    args = arguments(
        __doc__, argv, seeds=3, default_seeds=-1, cap_s=420.0, eval_every=0.25, steps=200
    )
    info = machine()
    mnist = load_test_mnist()
    cuda = torch.cuda.is_available()
    targets = [0.99, 0.995] if cuda else [0.99]
    n_test, seeds, cap_s = 10_000, args.seeds, args.cap_s
    # The default recipe takes minutes per seed on a CPU: one seed shows where it stands.
    default_seeds = (seeds if cuda else 1) if args.default_seeds < 0 else args.default_seeds
    default_seeds = min(default_seeds, seeds)
    eval_every, steps, warmup = args.eval_every, args.steps, 20
    if args.quick:  # smaller still where the command line asks for less
        targets, n_test, seeds, cap_s = [0.97], 2_000, min(seeds, 1), min(cap_s, 40.0)
        default_seeds = min(default_seeds, 1)
        eval_every, steps, warmup = min(eval_every, 0.05), min(steps, 20), 5
    watch_args = {
        "targets": targets,
        "cap_s": cap_s,
        "test_images": mnist.test_images[:n_test],
        "test_labels": mnist.test_labels[:n_test],
    }
    # The fast recipe's few epochs are scored more often, or the clock would overshoot.
    fast_every = min(eval_every, 0.1)

    runs: dict[str, list[dict]] = {"default": [], "fast": [], "seed": []}
    for seed in range(seeds):  # alternate, so every recipe sees the same load
        if seed < default_seeds:
            runs["default"].append(run_recipe(mnist, "default", seed, watch_args, eval_every))
        runs["fast"].append(run_recipe(mnist, "fast", seed, watch_args, fast_every))
        runs["seed"].append(run_seed_recipe(mnist, seed, watch_args, eval_every))
        print(f"seed {seed}: " + "; ".join(
            f"{name} {r[-1]['seconds_to']}" for name, r in runs.items() if len(r) > seed
        ), flush=True)  # fmt: skip

    rows, summary = [], {}
    recipes = {
        "default": recipe_line(TrainConfig.for_recipe("default")),
        "fast": recipe_line(TrainConfig.for_recipe("fast")),
        "seed": f"cnn: Adam lr {SEED_RECIPE['lr']:g}, batch {SEED_RECIPE['batch_size']}, "
        "DataLoader, no augmentation",
    }
    names = {"default": "default", "fast": "`--recipe fast`", "seed": "seed"}
    for recipe, results in runs.items():
        for target in targets:
            key = f"{target:.3f}"
            values = [r["seconds_to"][key] for r in results]
            summary[f"{recipe}@{key}"] = mean_or_none(values)
            rows.append(
                [
                    names[recipe],
                    recipes[recipe],
                    f"{target:.1%}",
                    _seconds_cell(values, cap_s),
                    f"{max(r['best_accuracy'] or 0 for r in results):.2%}",
                    f"{np.median([r['images_per_second'] for r in results]):,.0f}",
                ]
            )
    first = f"{targets[0]:.3f}"
    seed_s = summary[f"seed@{first}"]
    speedups = {
        r: (seed_s / summary[f"{r}@{first}"] if summary[f"{r}@{first}"] and seed_s else None)
        for r in ("default", "fast")
    }
    device_name = info["gpu"] or f"{info['cores']} CPU cores"
    seeds_note = f"{seeds} seed(s)" + (
        f" ({default_seeds} for the default recipe)" if default_seeds != seeds else ""
    )
    lines = [
        f"Time to MNIST test accuracy >= target on {device_name}, mean over {seeds_note}, "
        f"evaluated every {eval_every:g} epoch ({fast_every:g} for the fast recipe) on "
        f"{n_test:,} test digits (evaluation off the clock).\n",
        markdown_table(
            [
                "recipe",
                "settings",
                "target",
                "training time to target",
                "best test accuracy",
                "images/s",
            ],
            rows,
        ),
        "",
    ]
    for recipe, speedup in speedups.items():
        lines.append(
            f"- seed recipe / {recipe} recipe to {targets[0]:.1%}: "
            f"{'n/a (a recipe missed the target)' if speedup is None else f'{speedup:.2f}x'} "
            f"({goal_verdict(speedup, GOAL_SPEEDUP, lower_is_better=False)})"
        )
    quick_note = " (quick run: lower target)" if args.quick else ""
    if not cuda:
        for recipe in ("default", "fast"):
            value = summary[f"{recipe}@{first}"]
            verdict = (
                goal_verdict(value, GOAL_CPU_S)
                if value
                else f"missed (not all seeds within {cap_s:.0f} s)"
            )
            lines.append(
                f"- {recipe} recipe to {targets[0]:.1%} on {info['cores']} cores: "
                f"{verdict}{quick_note}"
            )
        lines.append(
            "- CUDA (99.0 % <= 1 s, 99.5 % <= 10 s on an H100): none here; run this script "
            "on a CUDA machine for `training_cuda.json`"
        )
    else:
        for recipe, (target, goal) in itertools.product(("default", "fast"), GOAL_CUDA_S.items()):
            value = summary.get(f"{recipe}@{target:.3f}")
            verdict = (
                goal_verdict(value, goal)
                if value
                else f"missed (not all seeds within {cap_s:.0f} s)"
            )
            lines.append(f"- CUDA, {recipe} recipe to {target:.1%}: {verdict}")

    per_arch = {arch: throughput(mnist, arch, warmup, steps) for arch in ARCHITECTURES}
    lines += [
        "",
        f"Training throughput, default step of each architecture ({steps} steps after "
        f"{warmup} warm-up):\n",
        markdown_table(
            ["architecture", "batch", "images/s", "seconds per 55,000-image epoch"],
            [
                [a, TrainConfig.for_arch(a).batch_size, f"{v:,.0f}", f"{55_000 / v:.0f}"]
                for a, v in per_arch.items()
            ],
        ),
    ]
    data = {
        "targets": targets,
        "seeds": seeds,
        "cap_s": cap_s,
        "eval_every_epoch": eval_every,
        "test_digits": n_test,
        "recipes": recipes,
        "runs": runs,
        "mean_seconds": summary,
        "default_seeds": default_seeds,
        "speedup_seed_over": speedups,
        "throughput_images_per_second": per_arch,
        "cuda": "measured" if cuda else NO_CUDA,
    }
    save_result(
        "training_cuda" if cuda else "training", data, "\n".join(lines), quick=args.quick, info=info
    )
    return data


if __name__ == "__main__":
    main()
