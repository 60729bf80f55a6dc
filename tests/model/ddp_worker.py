"""One training run, alone or as one rank of `torchrun`: tests/model/test_distributed.py.

Run as a program (not collected by pytest): `python tests/model/ddp_worker.py OUT` or
`torchrun --standalone --nproc_per_node 2 tests/model/ddp_worker.py OUT`. Rank 0
saves the trained weights and the history to OUT/result.pt.

Why a network of its own: dropout draws its masks from each process's random
stream, so no network with dropout can end with the weights of a one-process run,
and BatchNorm normalises over each rank's shard. This dropout-free MLP is trained
by the real `model.train.train` through the real process group; with augmentation,
outlier scribbles and a committed teacher's targets on, it checks that the shared
generator, the sharding and the gradient averaging reproduce one process's training.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from model.config import TrainConfig
from model.data import load_mnist
from model.distributed import is_rank_zero, process_group
from model.nets import ARCHITECTURES, Architecture, Normalize, one_width
from model.train import train
from settings import get_settings

ARCH = "mlp_without_dropout"
TRAIN_IMAGES = 1001  # 20 global batches of 48 and a last one of 41: uneven shards
VAL_IMAGES = 500


def mlp_without_dropout() -> nn.Module:
    return nn.Sequential(
        Normalize(), nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)
    )


def main(out: Path) -> None:
    ARCHITECTURES[ARCH] = Architecture(
        one_width(mlp_without_dropout), "test network: no dropout, no BatchNorm", 2, 3e-3
    )
    settings = get_settings()
    mnist = load_mnist(settings.mnist_dir)
    config = TrainConfig(
        arch=ARCH, epochs=2, batch_size=48, lr=3e-3, seed=5, device="cpu", outlier_weight=0.5,
        teachers=("lenet5",),
    )  # fmt: skip
    x, y = mnist.train_images, mnist.train_labels
    with process_group(settings.world_size, settings.rank, settings.local_rank, "cpu"):
        result = train(
            config, x[:TRAIN_IMAGES], y[:TRAIN_IMAGES], x[-VAL_IMAGES:], y[-VAL_IMAGES:],
            progress=False,
        )  # fmt: skip
        if is_rank_zero():
            torch.save(
                {
                    "weights": result.net.state_dict(),
                    "history": [asdict(row) for row in result.history],
                },
                out / "result.pt",
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
