"""Fine-tuning a saved model on the drawings its users labelled: arrays in, a challenger out.

Read top to bottom: the data (`LabelledDrawings`, the split by person), the
training set (user drawings, their strokes re-rendered, MNIST replayed beside them),
the fine-tune itself, then `finetune_from_drawings`, which also refits calibration
and the unsure detector, writes the challenger with its card and compares it with
its base (`model.compare`). No database here: the caller hands arrays in.
"""

from __future__ import annotations

import copy
import hashlib
import math
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from model import augment as aug
from model.calibration import fit_temperature
from model.card import (
    Calibration,
    FinetuneEntry,
    ModelCard,
    NoveltyEntry,
    UnsureReport,
    sha256_file,
)
from model.checkpoint import load_checkpoint, save_checkpoint
from model.compare import ComparisonReport, ModelRef, promotion_report
from model.data import Mnist
from model.evaluate import evaluate_logits
from model.features import FeatureTap, logits_and_features
from model.nets import architecture, count_parameters
from model.novelty import NoveltyDetector, detector_path
from model.pipeline import (
    CALIBRATION_SET,
    DETECTOR_METHOD,
    NOVELTY_THRESHOLD_RULE,
    calibration_split,
    novelty_threshold,
    with_test_figures,
    with_test_unsure,
)
from model.preprocess import canvas_to_mnist
from model.strokes import jitter, render_strokes
from model.train import predict_logits, recalibrate_batchnorm

MIN_LABELS = 200
MIN_PEOPLE = 5
HELD_OUT_SHARE = 0.2


class NotEnoughData(ValueError):  # noqa: N818 (the name the loop's API uses)
    """Too few labelled drawings or people to fine-tune and test honestly."""


@dataclass(frozen=True)
class LabelledDrawings:
    """Labelled drawings as the store hands them out, one entry per drawing."""

    images: np.ndarray  # (N, 28, 28) uint8, MNIST polarity (canvas_to_mnist output)
    labels: np.ndarray  # (N,) int64, 0-9
    people: Sequence[str | None]  # who drew each ("" or None: a person of its own)
    strokes: Sequence[list | None]  # [[[x, y], ...], ...] canvas pixels, or None (uploads)
    canvas_sizes: Sequence[tuple[int, int] | None]  # (width, height) of the canvas
    created_at: Sequence[datetime]

    def __post_init__(self) -> None:
        images, labels = np.asarray(self.images), np.asarray(self.labels)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise ValueError(
                f"images must be an N x 28 x 28 uint8 array (canvas_to_mnist output), got "
                f"shape {images.shape} and dtype {images.dtype}"
            )
        if labels.shape != (len(images),):
            raise ValueError(
                f"labels must hold one label per image ({len(images)}), got {labels.shape}"
            )
        wrong = sorted({int(x) for x in labels if not 0 <= x <= 9})
        if wrong:
            raise ValueError(f"labels must be digits 0-9, found {wrong}")
        for field in ("people", "strokes", "canvas_sizes", "created_at"):
            count = len(getattr(self, field))
            if count != len(images):
                raise ValueError(
                    f"{field} must have one entry per image ({len(images)}), got {count}"
                )
        object.__setattr__(self, "labels", labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def groups(self) -> list[str]:
        """Who drew each drawing; an unknown person is a group of one drawing."""
        return [str(p) if p else f"drawing-{i}" for i, p in enumerate(self.people)]

    def subset(self, index: np.ndarray) -> LabelledDrawings:
        index = np.asarray(index, dtype=np.int64)
        return LabelledDrawings(
            images=self.images[index],
            labels=self.labels[index],
            people=[self.people[i] for i in index],
            strokes=[self.strokes[i] for i in index],
            canvas_sizes=[self.canvas_sizes[i] for i in index],
            created_at=[self.created_at[i] for i in index],
        )


def check_enough(drawings: LabelledDrawings) -> None:
    """Raise NotEnoughData saying what is missing, if anything is."""
    labels, people = len(drawings), len(set(drawings.groups()))
    if labels < MIN_LABELS or people < MIN_PEOPLE:
        raise NotEnoughData(
            f"{labels} labels from {people} people; need >= {MIN_LABELS} from >= {MIN_PEOPLE}: "
            "label more drawings, by more people (each session counts as one person)"
        )


def split_by_person(groups: Sequence[str], share: float = HELD_OUT_SHARE) -> np.ndarray:
    """Boolean mask of the held-out drawings: about `share` of the people, never split.

    Each person's side follows from a hash of their id alone, so the split depends
    neither on the order the drawings came in nor on chance, and a person keeps
    their side as others join; at least one person is held out and one trains.
    """
    people = sorted(set(groups), key=_unit_hash)
    held = {p for p in people if _unit_hash(p) < share} or set(people[:1])
    if len(held) == len(people):
        held.discard(people[-1])
    return np.array([g in held for g in groups], dtype=bool)


def _unit_hash(text: str) -> float:
    """A number in [0, 1) fixed by `text`."""
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) / 16**12


# --- the training set ----------------------------------------------------------------


@dataclass(frozen=True)
class FinetuneConfig:
    """How a challenger is made; README's "The learning loop" has the evidence.

    The defaults guard against forgetting MNIST while learning people's styles:
    MNIST replayed beside their drawings, and the weights averaged back towards the
    base's (WiSE-FT). `head_epochs` (the head alone first) is there but unmeasured.
    """

    epochs: int = 6
    lr: float = 1e-3
    batch_size: int = 128
    replay: float = 1.0  # MNIST training images replayed per user image, each epoch
    renders: int = 1  # re-renderings of each drawing that has strokes (other brush, jitter)
    head_epochs: int = 0  # epochs that train the classifier head alone, first
    base_share: float = 0.5  # WiSE-FT: the base's share in the final weights (0: none)
    schedule: str = "cosine"  # "cosine" or "constant"
    seed: int = 0
    novelty_mnist: int = 20_000  # MNIST training images the detector's class parts see
    # Widths stretched by up to this factor either way (`model.augment`); None: as the
    # base was trained (its card's config), so fine-tuning keeps what that taught.
    stretch: float | None = None

    def describe(self) -> str:
        """The method in one line, for the card."""
        return (
            f"{self.epochs} epochs of lr {self.lr:g} ({self.schedule}, batch {self.batch_size}, "
            f"{self.head_epochs} head-only first), MNIST replay {self.replay:g} per user image, "
            f"{self.renders} re-rendering(s) per stroked drawing, widths stretched up to "
            f"{self.stretch or 1:g}x, WiSE-FT base share {self.base_share:g}, seed {self.seed}"
        )

    def for_base(self, base_card: ModelCard) -> FinetuneConfig:
        """This config with `stretch` filled in from the base's training, where unset."""
        if self.stretch is not None:
            return self
        return replace(self, stretch=base_card.config.stretch if base_card.config else 1.0)

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not 0 <= self.base_share < 1:
            raise ValueError(f"base_share must be in [0, 1), got {self.base_share}")


def rerendered(
    drawings: LabelledDrawings, renders: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each drawing with strokes painted `renders` times more: another brush, a jitter.

    The strokes go through `canvas_to_mnist` like a canvas does, so the network sees
    what the app would have made of the same hand with another pen.
    """
    images, labels = [], []
    for strokes, size, label in zip(
        drawings.strokes, drawings.canvas_sizes, drawings.labels, strict=True
    ):
        if not strokes or not size:
            continue
        width, height = size
        scale = np.array([width, height], dtype=float)
        unit = [np.asarray(s, dtype=float).reshape(-1, 2) / scale for s in strokes]
        for _ in range(renders):
            paths = [p * scale for p in jitter(unit, rng, rotation=6, shear=0.12, wobble=0.004)]
            brush = float(rng.uniform(0.04, 0.11)) * min(width, height)
            form = canvas_to_mnist(render_strokes(paths, (height, width), brush))
            if form is not None:
                images.append(form)
                labels.append(label)
    if not images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.stack(images), np.array(labels, dtype=np.int64)


# --- the fine-tune -------------------------------------------------------------------


def finetune_network(
    net: nn.Module,
    user: tuple[np.ndarray, np.ndarray],
    replay: tuple[np.ndarray, np.ndarray],
    config: FinetuneConfig,
    progress: bool = True,
) -> nn.Module:
    """Train `net` (a copy of the base) on user images with MNIST replayed beside them.

    Each epoch sees every user image once and `config.replay` times as many MNIST
    training images drawn afresh, shuffled together and augmented as the base was trained
    (`model.augment`). With `head_epochs`, the classifier head learns alone first.
    BatchNorm's statistics are recomputed at the end on the same mixture.
    """
    gen = torch.Generator().manual_seed(config.seed)
    user_x, user_y = _tensors(*user)
    mnist_x, mnist_y = _tensors(*replay)
    n_replay = min(len(mnist_y), round(config.replay * len(user_y)))
    steps = -(-(len(user_y) + n_replay) // config.batch_size)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    total = config.epochs * steps
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: _lr_factor(step, total, config)
    )
    bar = tqdm(total=total, desc="fine-tune", unit="batch", disable=not progress)
    for epoch in range(config.epochs):
        _freeze_body(net, frozen=epoch < config.head_epochs)
        picked = torch.randperm(len(mnist_y), generator=gen)[:n_replay]
        x_all, y_all = torch.cat([user_x, mnist_x[picked]]), torch.cat([user_y, mnist_y[picked]])
        order = torch.randperm(len(y_all), generator=gen)
        net.train()
        for step in range(steps):
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            x = aug.augment(x_all[idx].float().div_(255), gen, config.stretch or 1.0)
            loss = F.cross_entropy(net(x.contiguous(memory_format=torch.channels_last)), y_all[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update()
            bar.set_postfix(
                epoch=f"{epoch + 1}/{config.epochs}", loss=f"{loss.item():.3f}", refresh=False
            )
    bar.close()
    _freeze_body(net, frozen=False)
    return net.eval()


def make_challenger(
    base: nn.Module,
    user: tuple[np.ndarray, np.ndarray],
    replay: tuple[np.ndarray, np.ndarray],
    config: FinetuneConfig,
    progress: bool = True,
) -> nn.Module:
    """A fine-tuned copy of `base`, averaged with it (WiSE-FT), BatchNorm recomputed.

    BatchNorm's statistics come from user images and as many MNIST ones, so the
    saved network normalises the way both kinds of digits need. Dropout draws from
    torch's global generator: it is seeded too, in a fork, so that the card's seed
    reproduces the challenger and the caller's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        copied = copy.deepcopy(base).to(memory_format=torch.channels_last)
        net = finetune_network(copied, user, replay, config, progress)
        net = averaged_with_base(net, base, config.base_share)
        gen = torch.Generator().manual_seed(config.seed + 1)
        mnist_x = torch.from_numpy(
            replay[0][torch.randperm(len(replay[0]), generator=gen)[: len(user[0])].numpy()]
        )
        mixture = torch.cat([torch.from_numpy(user[0]), mnist_x]).unsqueeze(1)
        recalibrate_batchnorm(net, mixture, gen, channels_last=True)
    return net.to(memory_format=torch.contiguous_format).eval()


def _tensors(images: np.ndarray, labels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1), torch.from_numpy(
        labels.astype(np.int64)
    )


def _lr_factor(step: int, total: int, config: FinetuneConfig) -> float:
    """The learning rate's share of `config.lr` at `step`: a short warm-up, then flat or cosine."""
    warmup = max(1, total // 20)
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def _freeze_body(net: nn.Module, frozen: bool) -> None:
    """Train only the last linear layer (`frozen`), or every layer."""
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    for p in net.parameters():
        p.requires_grad_(not frozen)
    for p in last.parameters():
        p.requires_grad_(True)


def averaged_with_base(net: nn.Module, base: nn.Module, base_share: float) -> nn.Module:
    """WiSE-FT (Wortsman et al. 2022): the weights moved back `base_share` of the way to the base.

    Only parameters are averaged; BatchNorm statistics must be recomputed afterwards.
    """
    if base_share == 0:
        return net
    base_params = dict(base.named_parameters())
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.lerp_(base_params[name], base_share)
    return net


# --- calibration, the unsure detector, the card --------------------------------------


@dataclass(frozen=True)
class UnsureFit:
    """What the card needs to call a challenger's answer unsure."""

    temperature: float
    detector: NoveltyDetector  # with its threshold
    layers: tuple[str, ...]
    calibration_unsure: float  # share of the calibration digits called unsure


def refit_unsure(
    net: nn.Module,
    base: ModelCard,
    mnist: Mnist,
    user: tuple[np.ndarray, np.ndarray],
    mnist_digits: int,
) -> UnsureFit:
    """Calibration and novelty detector fitted anew for `net`, as training fits them.

    The temperature on `pipeline.calibration_split`, the confidence cut and the novelty
    threshold by training's rules (`pipeline.novelty_threshold`); the detector's parts
    on training digits, here the first `mnist_digits` of MNIST's training split and
    the user images (and labels) the challenger learnt from, so that the styles it now
    reads are not called strange.
    """
    train_x, train_y, _, _ = mnist.split()
    cal_x, cal_y = calibration_split(mnist)
    tap = FeatureTap(net, architecture(base.architecture).feature_layers(net))
    cal_logits, cal_features = logits_and_features(net, tap, cal_x)
    temperature = fit_temperature(
        torch.from_numpy(cal_logits), torch.from_numpy(cal_y.astype(np.int64))
    )
    card = replace(
        base,
        calibration=replace(base.calibration, temperature=temperature),
        unsure_threshold=architecture(base.architecture).unsure_below,
    )
    fit_x = np.concatenate([train_x[:mnist_digits], user[0]])
    _, features = logits_and_features(net, tap, fit_x)
    detector = NoveltyDetector.fit(features, np.concatenate([train_y[:mnist_digits], user[1]]))
    calibration = (cal_logits, cal_features)
    detector, calibration_unsure = novelty_threshold(detector, net, tap, card, calibration)
    tap.remove()
    return UnsureFit(temperature, detector, tap.layers, calibration_unsure)


def trained_on(
    base_weights: Path,
    base_card: ModelCard,
    train: LabelledDrawings,
    held_out: LabelledDrawings,
    **extra: int | str | float,
) -> FinetuneEntry:
    """The card's `finetune` entry: what the challenger learnt from, and from which base."""
    dates = sorted(train.created_at)
    return FinetuneEntry(
        base=base_card.name,
        base_weights=str(base_weights),
        base_sha256=sha256_file(base_weights),
        labels=len(train),
        label_counts=tuple(np.bincount(train.labels, minlength=10).tolist()),
        people=len(set(train.groups())),
        held_out_people=len(set(held_out.groups())),
        held_out_labels=len(held_out),
        first_drawing=dates[0].isoformat() if dates else None,
        last_drawing=dates[-1].isoformat() if dates else None,
        **extra,
    )


def save_challenger(
    net: nn.Module,
    base: ModelCard,
    fit: UnsureFit,
    weights: Path,
    mnist: Mnist,
    trained: FinetuneEntry,
) -> tuple[ModelCard, np.ndarray]:
    """Write the detector, the weights and the card; (card, MNIST test digits it predicts)."""
    tap = FeatureTap(net, fit.layers)
    logits, features = logits_and_features(net, tap, mnist.test_images)
    tap.remove()
    novel = fit.detector.is_novel(features)
    cut = architecture(base.architecture).unsure_below
    test = evaluate_logits(logits, mnist.test_labels, fit.temperature, cut, novel=novel)
    weights.parent.mkdir(parents=True, exist_ok=True)
    card = ModelCard(
        name=weights.stem,
        architecture=base.architecture,
        description=base.description,
        parameters=count_parameters(net),
        # The base's recipe: the network's shape (its width) and what a fine-tune of this
        # one keeps from it (its stretch); how this one was trained is `finetune`.
        config=base.config,
        trained_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        calibration=Calibration(
            temperature=fit.temperature,
            method=f"temperature scaling fitted on the {CALIBRATION_SET}",
        ),
        unsure_threshold=cut,
        unsure_report=with_test_unsure(UnsureReport(), base.architecture, test),
        novelty=NoveltyEntry(
            file=detector_path(weights).name,
            sha256=fit.detector.save(detector_path(weights)),
            threshold=fit.detector.threshold,
            layers=tuple(fit.layers),
            method=DETECTOR_METHOD,
            dimensions=int(features.shape[1]),
            fitted_on="training split and the user drawings trained on",
            threshold_chosen_on=NOVELTY_THRESHOLD_RULE,
            validation_unsure_share=fit.calibration_unsure,
        ),
        data_checksums=mnist.checksums,
        torch_version=torch.__version__,
        python_version=platform.python_version(),
        finetune=trained,
    )
    return save_checkpoint(net, with_test_figures(card, test), weights), logits.argmax(axis=1)


# --- from labelled drawings to a compared challenger ---------------------------------


@dataclass(frozen=True)
class FinetuneOutcome:
    weights: Path  # saved_models/NEW.pt, its card and novelty detector beside it
    report: ComparisonReport


def finetune_from_drawings(
    base_weights: Path,
    drawings: LabelledDrawings,
    mnist: Mnist,
    out_dir: Path,
    name: str,
    *,
    progress: bool = True,
    exclude: np.ndarray | None = None,
    config: FinetuneConfig | None = None,
) -> FinetuneOutcome:
    """Fine-tune `base_weights` on `drawings`; write `out_dir/<name>.pt` and compare.

    `exclude`: drawings to leave out (indices, or a boolean mask), e.g. the ones
    `model.label_issues` finds suspicious. People are split (about a fifth held out,
    `split_by_person`); the challenger learns from the others with MNIST replayed
    beside them, gets its own calibration and unsure detector, and is compared with
    its base on the held-out people and on MNIST test. Raises NotEnoughData.
    """
    config = config or FinetuneConfig()
    started = time.perf_counter()
    exclude_index = exclusion_index(exclude, len(drawings))
    drawings = drawings.subset(np.setdiff1d(np.arange(len(drawings)), exclude_index))
    check_enough(drawings)
    held = split_by_person(drawings.groups())
    train, held_out = drawings.subset(np.flatnonzero(~held)), drawings.subset(np.flatnonzero(held))
    base, base_card = load_checkpoint(Path(base_weights))
    config = config.for_base(base_card)
    extra_x, extra_y = rerendered(train, config.renders, np.random.default_rng(config.seed))
    user = (np.concatenate([train.images, extra_x]), np.concatenate([train.labels, extra_y]))
    train_x, train_y, _, _ = mnist.split()
    net = make_challenger(base, user, (train_x, train_y), config, progress)
    fit = refit_unsure(net, base_card, mnist, user, config.novelty_mnist)
    provenance = trained_on(
        Path(base_weights),
        base_card,
        train,
        held_out,
        excluded=len(exclude_index),
        re_rendered=len(extra_y),
        method=config.describe(),
        seconds=round(time.perf_counter() - started, 1),
    )
    weights = Path(out_dir) / f"{name}.pt"
    _, challenger_test = save_challenger(net, base_card, fit, weights, mnist, provenance)
    champion_test = predict_logits(base, mnist.test_images).argmax(1).numpy()
    report = promotion_report(
        ModelRef(base_card.name, str(base_weights)),
        ModelRef(name, str(weights)),
        held_out=(held_out.labels, _digits(base, held_out.images), _digits(net, held_out.images)),
        mnist_test=(mnist.test_labels, champion_test, challenger_test),
        extra={"trained_on": asdict(provenance)},
    )
    return FinetuneOutcome(weights, report)


def exclusion_index(exclude: np.ndarray | None, n: int) -> np.ndarray:
    """Indices to leave out, from indices or a boolean mask over `n` drawings."""
    if exclude is None:
        return np.zeros(0, dtype=np.int64)
    exclude = np.asarray(exclude)
    if exclude.dtype == bool:
        if exclude.shape != (n,):
            raise ValueError(
                f"an exclude mask needs one entry per drawing ({n}), got {exclude.shape}"
            )
        return np.flatnonzero(exclude)
    index = np.unique(exclude.astype(np.int64))
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(f"exclude holds indices outside 0..{n - 1}")
    return index


def _digits(net: nn.Module, images: np.ndarray) -> np.ndarray:
    return predict_logits(net, images).argmax(1).numpy()
