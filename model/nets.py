"""The architectures digitlab can train, and their registry by name.

Every network takes a float batch of shape (N, 1, 28, 28) with ink in [0, 1] (white
ink on black, as MNIST) and returns logits of shape (N, 10). The input
normalisation is part of the network, so a checkpoint is self-contained: the
predictor feeds raw [0, 1] pixels and never needs to know MNIST's mean and std.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from model.calibration import UNSURE_BELOW
from model.config import TrainConfig

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081


class Normalize(nn.Module):
    """Standardise pixels with MNIST's statistics (constants, not parameters)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MNIST_MEAN) / MNIST_STD


class SeedCNN(nn.Module):
    """The seed architecture (the classic PyTorch MNIST example), kept as a baseline."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = Normalize()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dropout1 = nn.Dropout(0.25)
        self.fc1 = nn.Linear(9216, 128)
        self.dropout2 = nn.Dropout(0.5)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(self.norm(x)))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.dropout1(torch.flatten(x, 1))
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


class MLP(nn.Module):
    """784 -> 512 -> 512 -> 10 with dropout: the no-convolution reference point."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            Normalize(),
            nn.Flatten(),
            nn.Linear(784, 512),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(512, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) on 32x32 zero-padded input, with BatchNorm."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            Normalize(),
            nn.ZeroPad2d(2),  # 28x28 -> 32x32, as in the paper
            nn.Conv2d(1, 6, 5),  # -> 6 x 28 x 28
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 6 x 14 x 14
            nn.Conv2d(6, 16, 5),  # -> 16 x 10 x 10
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 16 x 5 x 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(400, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity shortcut (He et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        return F.relu(out + x, inplace=True)


class SmallResNet(nn.Module):
    """A small residual CNN: three stages (28, 14, 7 px), global pooling, dropout.

    Sized for CPU training: most work happens at 14x14 and 7x7, where a 3x3
    kernel already sees a large part of the digit, and global average pooling
    keeps the classifier tiny, which makes it robust to where the digit sits.
    `width` scales every stage's channels (FULL_WIDTHS at 1).
    """

    FULL_WIDTHS = (32, 64, 128)

    def __init__(self, width: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        w1, w2, w3 = (max(1, round(channels * width)) for channels in self.FULL_WIDTHS)
        self.body = nn.Sequential(
            Normalize(),
            conv_bn(1, w1),  # 28x28
            conv_bn(w1, w2, stride=2),  # 14x14
            ResidualBlock(w2),
            conv_bn(w2, w3, stride=2),  # 7x7
            ResidualBlock(w3),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(w3, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _named(net: nn.Module, kind: type[nn.Module]) -> list[str]:
    """Names of `net`'s modules of type `kind`, in forward order."""
    return [name for name, module in net.named_modules() if isinstance(module, kind)]


@dataclass(frozen=True)
class Architecture:
    """Everything digitlab knows about one architecture, declared once.

    `epochs`, `lr`, `batch_size`, `stretch`, `width` and `style_share` (`TrainConfig`)
    are its training defaults (chosen on the validation split; the last three on the
    handwriting proxy and real writers too, README "Models"), `cuda` what changes on
    CUDA, where larger batches keep a GPU busy. `build(width)` makes the network; only
    the resnet's width can change. `channels_last_on_cpu`: that memory layout speeds up
    these convolutions on a CPU too (tiny layers get slower). `feature_layers(net)`
    names the layers whose pooled outputs the novelty detector reads, found by what they
    are rather than by their position: a middle stage and the last hidden one, or
    (resnet) the middle stage alone, whose last stage calls unfamiliar writing styles
    novel (README "Honest predictions"). `unsure_below` is its confidence cut
    (`model.calibration`).
    """

    build: Callable[[float], nn.Module]
    description: str
    epochs: int
    lr: float
    batch_size: int = 128
    stretch: float = TrainConfig.stretch
    width: float = TrainConfig.width
    style_share: float = TrainConfig.style_share
    cuda: Mapping[str, int | float] = field(default_factory=dict)
    channels_last_on_cpu: bool = False
    feature_layers: Callable[[nn.Module], tuple[str, ...]] = lambda net: ()
    unsure_below: float = UNSURE_BELOW

    def training_defaults(self, on_cuda: bool) -> dict[str, int | float]:
        defaults = {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "stretch": self.stretch,
            "width": self.width,
            "style_share": self.style_share,
        }
        return defaults | dict(self.cuda) if on_cuda else defaults


def one_width(network: Callable[[], nn.Module]) -> Callable[[float], nn.Module]:
    """`Architecture.build` for a network that has one width: `network()` at width 1,
    an error at any other."""

    def made(width: float) -> nn.Module:
        if width != 1:
            raise ValueError(f"{network.__name__} has one width; width must be 1, got {width:g}")
        return network()

    return made


ARCHITECTURES: dict[str, Architecture] = {
    "cnn": Architecture(
        one_width(SeedCNN),
        "seed CNN: 2 conv, max-pool, dropout, 9216-128-10 dense",
        epochs=8,
        lr=2e-3,
        channels_last_on_cpu=True,
        feature_layers=lambda net: ("conv2", "fc1"),
    ),
    "mlp": Architecture(
        one_width(MLP),
        "multilayer perceptron 784-512-512-10",
        epochs=30,
        lr=1e-3,
        feature_layers=lambda net: tuple(_named(net, nn.ReLU)),  # both hidden layers
    ),
    "lenet5": Architecture(
        one_width(LeNet5),
        "LeNet-5 with BatchNorm on 32x32 padded input",
        epochs=20,
        lr=4e-3,
        # The convolutional stage, and the last hidden dense layer.
        feature_layers=lambda net: ("features", _named(net, nn.Linear)[-2]),
    ),
    "resnet": Architecture(
        SmallResNet,
        "small residual CNN, BatchNorm, global pooling, dropout",
        epochs=13,
        lr=3e-3,
        stretch=1.4,  # digits as wide as people draw them on a square canvas
        width=0.75,  # as accurate as full width on every split, at 0.56x the multiply-adds
        style_share=0.4,  # twice the others': real writers and held-out styles gain
        cuda={"batch_size": 512, "lr": 6e-3},
        channels_last_on_cpu=True,
        feature_layers=lambda net: tuple(_named(net, ResidualBlock)[:1]),  # the 14x14 stage
        # The highest cut that, estimated from real writers never looked at, flags at
        # most 4 % of real digits and catches most of their errors: README "Why the
        # resnet's cut is 82.5 %". The others keep `calibration.UNSURE_BELOW`: at 0.9
        # confidence alone spends their digit budget (`model.novelty`), and novelty
        # stops flagging non-digits.
        unsure_below=0.825,
    ),
}


def architecture(arch: str) -> Architecture:
    """The registry entry of `arch`; unknown names list the known ones."""
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {arch!r}; choose one of: {known}") from None


def build(arch: str, width: float = 1.0) -> nn.Module:
    """A freshly initialised network for `arch` at `width` (`TrainConfig.width`);
    unknown names list the known ones."""
    return architecture(arch).build(width)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
