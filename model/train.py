"""The training loop: whole dataset on the device, batched augmentation, one-cycle LR.

MNIST as uint8 fits on any device, so it lives there as one tensor and every batch
is an index into it: no DataLoader, no per-sample Python, no host-to-device copies
after the first. Augmentation runs batched on the same device (`model.augment`); on
CUDA, bf16 autocast and channels_last use the tensor cores. On several processes
every rank draws the same batches and trains on its shard (`model.distributed`).
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
from tqdm import tqdm

from model import augment as aug
from model.card import EpochRecord
from model.config import TrainConfig
from model.device import layout, pick_device, pixel_batches, seed_everything, to_device_tensor
from model.distil import TeacherReading, read_by_teachers
from model.distributed import all_reduce_sum, shard, world_size, wrap_for_ranks
from model.nets import architecture, build


@dataclass
class TrainResult:
    net: nn.Module
    device: torch.device
    seconds: float  # training time; time spent in a step hook is not counted
    history: list[EpochRecord] = field(default_factory=list)
    stopped_early: bool = False  # a step hook asked to stop before the last epoch ended
    teachers: dict[str, str] = field(default_factory=dict)  # name -> weights' SHA-256


# Called every `hook_every` optimizer steps with the network (in training mode), the
# step number (1-based, counted across epochs) and the training seconds so far; return
# True to stop training at once. benchmarks/training.py uses it to measure time to
# an accuracy.
StepHook = Callable[[nn.Module, int, float], bool]


class TrainingClock:
    """Seconds of training: wall time, less the time spent in the step hook.

    The loop keeps this clock rather than the hook because the epochs' timings (in
    the card) must be training time too, and only the loop knows where epochs begin.
    On CUDA it is read after a synchronise, so queued kernels count as training.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.started = time.perf_counter()
        self.excluded = 0.0

    def seconds(self) -> float:
        return time.perf_counter() - self.started - self.excluded

    @contextmanager
    def paused(self) -> Iterator[None]:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        paused = time.perf_counter()
        try:
            yield
        finally:
            self.excluded += time.perf_counter() - paused


@dataclass
class Run:
    """One training run's state: the data on the device, the network, its optimiser."""

    config: TrainConfig
    device: torch.device
    gen: torch.Generator
    images: torch.Tensor  # (N, 1, 28, 28) uint8 on the device
    labels: torch.Tensor
    teacher_probabilities: torch.Tensor | None  # (N, 10) on the device (`model.distil`)
    net: nn.Module
    model: nn.Module  # `net`, wrapped for DistributedDataParallel on several processes
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    channels_last: bool
    clock: TrainingClock
    steps_per_epoch: int
    hook: StepHook | None = None
    hook_every: int = 0
    stopped: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.on_cuda):
            return self.model(layout(x, self.channels_last)).float()

    @property
    def on_cuda(self) -> bool:
        return self.device.type == "cuda"


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

    `hook` (see `StepHook`), when given, runs every `hook_every` steps, off the clock.
    One process only: a hook's stop decision would otherwise have to agree across ranks.
    """
    if hook is not None and hook_every < 1:
        raise ValueError(f"hook_every must be >= 1 when a hook is given, got {hook_every}")
    if hook is not None and world_size() > 1:
        raise ValueError("a step hook runs in one process only (WORLD_SIZE is above 1)")
    if config.limit is not None:
        train_images, train_labels = train_images[: config.limit], train_labels[: config.limit]
    teachers = read_by_teachers(config.teachers, train_images) if config.teachers else None
    run = start_run(config, train_images, train_labels, teachers)
    run.hook, run.hook_every = hook, hook_every
    history: list[EpochRecord] = []
    for epoch in range(1, config.epochs + 1):
        epoch_started = run.clock.seconds()
        loss_sum, correct = train_epoch(run, epoch, progress)
        if run.stopped:
            break
        recalibrate_batchnorm(run.net, run.images, run.gen, run.channels_last)
        row = epoch_record(run, epoch, epoch_started, loss_sum, correct, val_images, val_labels)
        history.append(row)
        if progress:
            tqdm.write(
                f"epoch {epoch:>2}/{config.epochs}  loss {row.train_loss:.4f}  "
                f"train acc {row.train_accuracy:.4f}  val acc {row.val_accuracy:.4f}  "
                f"{row.images_per_second:,.0f} img/s  {row.seconds:.1f}s"
            )
    net = run.net.to(memory_format=torch.contiguous_format).eval()
    identities = teachers.weights_sha256 if teachers else {}
    return TrainResult(
        net, run.device, run.clock.seconds(), history, run.stopped, teachers=identities
    )


def start_run(
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    teachers: TeacherReading | None = None,
) -> Run:
    """Seed, put the data (and what `teachers` read of it) and a fresh network on the
    device, build optimiser and schedule."""
    device = pick_device(config.device)
    gen = seed_everything(config.seed, device)
    channels_last = device.type == "cuda" or architecture(config.arch).channels_last_on_cpu
    net = build(config.arch, config.width).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    model = wrap_for_ranks(net, device, config.seed)
    taught = None if teachers is None else torch.from_numpy(teachers.probabilities).to(device)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, -(-len(labels) // config.batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, epochs=config.epochs, steps_per_epoch=steps_per_epoch
    )
    return Run(
        config=config,
        device=device,
        gen=gen,
        images=to_device_tensor(images, device),
        labels=torch.from_numpy(labels.astype(np.int64)).to(device),
        teacher_probabilities=taught,
        net=net,
        model=model,
        optimizer=optimizer,
        schedule=schedule,
        channels_last=channels_last,
        clock=TrainingClock(device),
        steps_per_epoch=steps_per_epoch,
    )


def train_epoch(run: Run, epoch: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over the shuffled data: (summed loss, correct answers) over every rank."""
    config, n = run.config, len(run.labels)
    run.net.train()
    started = time.perf_counter()
    order = torch.randperm(n, generator=run.gen, device=run.device)
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), device=run.device, dtype=torch.long)
    steps = range(run.steps_per_epoch)
    bar = tqdm(
        steps,
        desc=f"epoch {epoch}/{config.epochs}",
        disable=not progress,
        leave=False,
        unit="batch",
    )
    for step in bar:
        idx = order[step * config.batch_size : (step + 1) * config.batch_size]
        loss, digits, y = train_step(run, idx)
        loss_sum += loss.detach() * (len(idx) / world_size())
        correct += (digits.argmax(1) == y).sum()
        if progress and step % 20 == 0:
            seen = min((step + 1) * config.batch_size, n)
            rate = seen / (time.perf_counter() - started)
            bar.set_postfix(loss=f"{loss.item():.3f}", img_s=f"{rate:.0f}")
        if call_hook(run, (epoch - 1) * run.steps_per_epoch + step + 1):
            break
    return all_reduce_sum(loss_sum), all_reduce_sum(correct)


def train_step(run: Run, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One optimiser step on the global batch `idx`: (loss, this rank's logits, labels).

    Losses are sums scaled by world size / global batch, so that DDP's average over the
    ranks is the mean over the global batch however it split (an empty shard adds 0,
    not NaN); with one process that is the plain mean.
    """
    config = run.config
    x = run.images[idx].float().div_(255)
    if config.augment:
        x = aug.augment(x, run.gen, config.stretch)
    x, y = shard(x), shard(run.labels[idx])
    digits = run.forward(x)
    scale = world_size() / len(idx)
    target = y if run.teacher_probabilities is None else distilled_target(run, idx, y)
    loss = F.cross_entropy(digits, target, reduction="sum", label_smoothing=config.label_smoothing)
    loss = loss * scale
    n_outliers = int(config.batch_size * config.outlier_fraction)
    if config.outlier_weight and n_outliers:
        loss = loss + config.outlier_weight * outlier_loss(run, n_outliers)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    run.schedule.step()
    return loss, digits, y


def distilled_target(run: Run, idx: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """This rank's target probabilities: the label, `teacher_weight` of it replaced by
    the teachers' reading of the same images."""
    weight = run.config.teacher_weight
    teachers = shard(run.teacher_probabilities[idx])
    return (1 - weight) * F.one_hot(labels, 10).float() + weight * teachers


def outlier_loss(run: Run, n: int) -> torch.Tensor:
    """Outlier exposure: cross-entropy from random scribbles' answers to the uniform one.

    The scribbles pass through BatchNorm's stored statistics, not their own: mixed into
    the digits' batch they would shift the statistics the digits are normalised with.
    """
    scribbles = shard(aug.random_scribbles(n, run.gen, run.device))
    with frozen_batchnorm(run.net):
        log_probs = F.log_softmax(run.forward(scribbles), 1)
    return -log_probs.sum() * (world_size() / (n * 10))


def call_hook(run: Run, step: int) -> bool:
    """Run the step hook when due, off the clock; whether it asked to stop."""
    if run.hook is None or step % run.hook_every:
        return False
    with run.clock.paused():
        run.stopped = bool(run.hook(run.net, step, run.clock.seconds()))
        run.net.train()
    return run.stopped


def epoch_record(
    run: Run,
    epoch: int,
    started: float,
    loss_sum: torch.Tensor,
    correct: torch.Tensor,
    val_images: np.ndarray,
    val_labels: np.ndarray,
) -> EpochRecord:
    """The epoch's history row, validated; its time runs from `started` on the run's clock."""
    n = len(run.labels)
    val_logits = predict_logits(run.net, val_images, run.device, channels_last=run.channels_last)
    val_loss = F.cross_entropy(val_logits, torch.from_numpy(val_labels.astype(np.int64)))
    seconds = run.clock.seconds() - started
    return EpochRecord(
        epoch=epoch,
        train_loss=float(loss_sum.item() / n),
        train_accuracy=float(correct.item() / n),
        val_loss=float(val_loss),
        val_accuracy=float((val_logits.argmax(1).numpy() == val_labels).mean()),
        seconds=round(seconds, 2),
        images_per_second=round(n / seconds, 1),
        images=n,
    )


@contextmanager
def frozen_batchnorm(net: nn.Module) -> Iterator[None]:
    """Run BatchNorm layers on their stored statistics, without updating them."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for m in norms:
        m.eval()
    try:
        yield
    finally:
        for m, mode in zip(norms, modes, strict=True):
            m.train(mode)


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

    The running averages lag behind weights that move fast ("precise BN", Wu & Johnson
    2021); an exact average makes validation, calibration and the saved model use the
    statistics the final weights produce. Every rank computes the same, so no rank's
    shard decides them. Networks without BatchNorm are left untouched.
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
