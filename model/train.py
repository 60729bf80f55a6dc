"""The training loop: whole dataset on the device, batched augmentation, one-cycle LR.

Read top to bottom: configuration, device choice, the loop, inference helpers.

Why it is fast: MNIST is 47 MB as uint8, so it lives on the device as one tensor
and every batch is an index into it -- no DataLoader, no per-sample Python, no
host-to-device copies after the first. Augmentation runs batched on the same device
(`model.augment`). On CUDA, bf16 autocast and channels_last use the tensor cores.

Several processes (`torchrun`, `model.distributed`): every rank holds the whole
dataset and the same generator, so all ranks draw the same permutation, the same
augmentation and the same scribbles for each global batch of `batch_size`; each
rank then trains on its shard (every world_size-th image) and DistributedDataParallel
averages the gradients. The global batch, the step count and the one-cycle schedule
are those of one process, and a network without dropout or BatchNorm ends with the
weights one process would reach (tests/model/test_distributed.py). BatchNorm
normalises over each rank's shard during training (no SyncBatchNorm: it runs on CUDA
only, so this could not be tested on CPUs, and it adds collectives to every BatchNorm
layer of every step of networks whose steps are short); the statistics that are
saved come from `recalibrate_batchnorm`, which every rank runs identically on clean
digits, so no rank's shard decides them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from model import augment as aug
from model.config import TrainConfig
from model.device import layout, pick_device, pixel_batches, seed_everything, to_device_tensor
from model.distributed import rank_and_world_size
from model.nets import architecture, build


@dataclass
class TrainResult:
    net: nn.Module
    device: torch.device
    seconds: float  # training time; time spent in a step hook is not counted
    history: list[dict] = field(default_factory=list)  # one row per epoch
    stopped_early: bool = False  # a step hook asked to stop before the last epoch ended


# Called every `hook_every` optimizer steps with the network (in training mode), the
# step number (1-based, counted across epochs) and the training seconds so far; return
# True to stop training at once. benchmarks/training.py uses it to measure time to
# an accuracy: the hook evaluates, and the loop keeps its time off the clock.
StepHook = Callable[[nn.Module, int, float], bool]


@contextmanager
def frozen_batchnorm(net: nn.Module) -> Iterator[None]:
    """Run BatchNorm layers on their stored statistics, without updating them.

    The scribbles of outlier exposure must not enter BatchNorm's statistics: mixed
    into a batch, they shift the running mean and variance away from what digits
    produce, and a network evaluated on digits alone then loses several points of
    accuracy (measured: 88.6 % instead of 98.4 % after a short run). Passing them
    separately, through the statistics inference will use, also trains the network
    on exactly the normalisation it will apply to a non-digit at prediction time.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(norms, modes, strict=True):
            m.train(mode)


def train(
    config: TrainConfig,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    progress: bool = True,
    hook: StepHook | None = None,
    hook_every: int = 0,
) -> TrainResult:
    """Train a fresh `config.arch` network and return it with its per-epoch history.

    `hook` (see `StepHook`), when given, runs every `hook_every` steps; its time is
    excluded from `seconds` and from the epochs' timings (on CUDA the clock is read
    after a synchronise, so queued kernels count as training). One process only: a
    hook's stop decision would otherwise have to agree across ranks.
    """
    if hook is not None and hook_every < 1:
        raise ValueError(f"hook_every must be >= 1 when a hook is given, got {hook_every}")
    device = pick_device(config.device)
    gen = seed_everything(config.seed, device)
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]
    x_all = to_device_tensor(train_images, device)
    y_all = torch.from_numpy(train_labels.astype(np.int64)).to(device)
    n = len(y_all)

    channels_last = device.type == "cuda" or architecture(config.arch).channels_last_on_cpu
    net = build(config.arch).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    rank, world_size = rank_and_world_size()
    if hook is not None and world_size > 1:
        raise ValueError("a step hook runs in one process only (WORLD_SIZE is above 1)")
    model: nn.Module = net
    if world_size > 1:
        # Same weights everywhere (DDP also broadcasts rank 0's), then dropout masks
        # of their own per rank, as different images get different masks in one process.
        model = DistributedDataParallel(net, device_ids=[device] if device.type == "cuda" else None)
        torch.manual_seed(config.seed * 1000 + rank)
    use_bf16 = device.type == "cuda"
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, -(-n // config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
    )
    n_outliers = int(config.batch_size * config.outlier_fraction) if config.outlier_weight else 0

    history: list[dict] = []
    started = time.perf_counter()
    hook_seconds = 0.0  # time spent inside the hook, kept off every clock
    stop = False
    for epoch in range(1, config.epochs + 1):
        net.train()
        epoch_start = time.perf_counter()
        epoch_hook_seconds = hook_seconds
        order = torch.randperm(n, generator=gen, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch}/{config.epochs}",
            disable=not progress,
            leave=False,
            unit="batch",
        )
        for step in bar:
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            x = x_all[idx].float().div_(255)
            y = y_all[idx]
            if config.augment:
                x = aug.augment(x, gen)
            if world_size > 1:
                x, y = _shard(x, rank, world_size), _shard(y, rank, world_size)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                digits = model(layout(x, channels_last)).float()
            if world_size > 1:
                # Sums scaled so that DDP's average over the ranks is the mean over the
                # global batch, however it split (an empty shard adds 0, not NaN).
                loss = F.cross_entropy(
                    digits, y, reduction="sum", label_smoothing=config.label_smoothing
                ) * (world_size / len(idx))
            else:
                loss = F.cross_entropy(digits, y, label_smoothing=config.label_smoothing)
            if n_outliers:
                scribbles = aug.random_scribbles(n_outliers, gen, device)
                if world_size > 1:
                    scribbles = _shard(scribbles, rank, world_size)
                with (
                    frozen_batchnorm(net),
                    torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16),
                ):
                    outlier_logits = model(layout(scribbles, channels_last)).float()
                # Outlier exposure: cross-entropy to the uniform distribution.
                if world_size > 1:
                    log_probs = F.log_softmax(outlier_logits, 1).sum() * (
                        world_size / (n_outliers * 10)
                    )
                else:
                    log_probs = F.log_softmax(outlier_logits, 1).mean()
                loss = loss - config.outlier_weight * log_probs
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach() * (len(idx) / world_size if world_size > 1 else len(y))
            correct += (digits.argmax(1) == y).sum()
            if progress and step % 20 == 0:
                seen = min((step + 1) * config.batch_size, n)
                bar.set_postfix(
                    loss=f"{loss.item():.3f}",
                    img_s=f"{seen / (time.perf_counter() - epoch_start):.0f}",
                )
            global_step = (epoch - 1) * steps_per_epoch + step + 1
            if hook is not None and global_step % hook_every == 0:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                paused = time.perf_counter()
                stop = bool(hook(net, global_step, paused - started - hook_seconds))
                net.train()
                hook_seconds += time.perf_counter() - paused
                if stop:
                    break
        if stop:
            break
        if world_size > 1:  # the epoch's loss and accuracy over every rank's images
            torch.distributed.all_reduce(loss_sum)
            torch.distributed.all_reduce(correct)
        recalibrate_batchnorm(net, x_all, gen, channels_last)
        val_logits = predict_logits(net, val_images, device, channels_last=channels_last)
        val_acc = float((val_logits.argmax(1).numpy() == val_labels).mean())
        val_loss = float(F.cross_entropy(val_logits, torch.from_numpy(val_labels.astype(np.int64))))
        seconds = time.perf_counter() - epoch_start - (hook_seconds - epoch_hook_seconds)
        row = {
            "epoch": epoch,
            "train_loss": float(loss_sum.item() / n),
            "train_accuracy": float(correct.item() / n),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
            "images": n,
            "seconds": round(seconds, 2),
            "images_per_second": round(n / seconds, 1),
        }
        history.append(row)
        if progress:
            tqdm.write(
                f"epoch {epoch:>2}/{config.epochs}  loss {row['train_loss']:.4f}  "
                f"train acc {row['train_accuracy']:.4f}  val acc {val_acc:.4f}  "
                f"{row['images_per_second']:,.0f} img/s  {seconds:.1f}s"
            )
    net = net.to(memory_format=torch.contiguous_format).eval()
    return TrainResult(
        net=net,
        device=device,
        seconds=time.perf_counter() - started - hook_seconds,
        history=history,
        stopped_early=stop,
    )


def _shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """This rank's part of a global batch: every world_size-th item, starting at `rank`."""
    return batch[rank::world_size]


@torch.no_grad()
def recalibrate_batchnorm(
    net: nn.Module,
    images: torch.Tensor,
    gen: torch.Generator,
    channels_last: bool,
    batches: int = 40,
    batch_size: int = 256,
) -> None:
    """Recompute BatchNorm's running statistics from clean digits with the current weights.

    The running averages BatchNorm keeps during training lag behind weights that move
    fast, and the outlier-exposure pass moves them fast: after a short run, eval-mode
    accuracy was 97.6 % with the lagging statistics and 98.5 % with recomputed ones
    ("precise BN", Wu & Johnson 2021). An exact average over ~10,000 clean training
    digits makes validation, calibration and the saved model use the statistics that
    the final weights really produce. Networks without BatchNorm are left untouched.
    """
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average instead of an exponential one
    was_training = net.training
    net.train()
    order = torch.randperm(len(images), generator=gen, device=images.device)
    chosen = images[order[: batches * batch_size]]
    for batch in pixel_batches(chosen, images.device, batch_size, channels_last):
        net(batch)
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.train(was_training)


@torch.inference_mode()
def predict_logits(
    net: nn.Module,
    images: np.ndarray,
    device: torch.device | None = None,
    batch_size: int = 2000,
    channels_last: bool = False,
) -> torch.Tensor:
    """Logits (on the CPU) for N x 28 x 28 uint8 images, in eval mode, batched."""
    device = device or next(net.parameters()).device
    was_training = net.training
    net.eval()
    out = [net(x).float().cpu() for x in pixel_batches(images, device, batch_size, channels_last)]
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 10)
