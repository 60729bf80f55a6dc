"""The pictures of a training run, written to `results/`.

Matplotlib with the Agg backend: it draws to files with no display, which is what a
training job on a server has.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from model.card import EpochRecord

MISS_COLOUR = "#d62728"
HIT_COLOUR = "#2ca02c"


def pick_examples(labels: np.ndarray, predicted: np.ndarray, count: int = 8) -> np.ndarray:
    """The first test digits, with up to a quarter swapped for the first misses.

    Showing only hits hides how the model fails; showing only misses misleads about
    how often. A fixed choice also makes two runs' pictures comparable.
    """
    misses = np.flatnonzero(labels != predicted)[: count // 4]
    hits = [i for i in range(len(labels)) if i not in set(misses)][: count - len(misses)]
    return np.array(sorted([*hits, *misses.tolist()]))


def plot_test_predictions(
    images: np.ndarray, labels: np.ndarray, probs: np.ndarray, path: Path, count: int = 8
) -> None:
    predicted = probs.argmax(axis=1)
    chosen = pick_examples(labels, predicted, count)
    fig, axes = plt.subplots(1, len(chosen), figsize=(1.6 * len(chosen), 2.2))
    for ax, i in zip(np.atleast_1d(axes), chosen, strict=True):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ok = predicted[i] == labels[i]
        ax.set_title(
            f"pred {predicted[i]} ({probs[i].max():.0%})\ntrue {labels[i]}",
            color=HIT_COLOUR if ok else MISS_COLOUR,
            fontsize=10,
        )
        ax.axis("off")
    fig.suptitle("MNIST test digits: predicted vs true (misses in red)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion_matrix(matrix: np.ndarray, path: Path, title: str) -> None:
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(6.2, 5.4))
    # Log colour scale: the diagonal is ~1000 per cell and errors are single digits.
    shown = ax.imshow(np.log1p(matrix), cmap="Blues")
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if row == col else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title)
    fig.colorbar(shown, ax=ax, label="log(1 + count)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_training_curves(history: Sequence[EpochRecord], path: Path, title: str) -> None:
    epochs = [row.epoch for row in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    left.plot(epochs, [row.train_loss for row in history], "o-", label="train loss")
    left.plot(epochs, [row.val_loss for row in history], "o-", label="validation loss")
    left.set_xlabel("epoch")
    left.set_ylabel("cross-entropy")
    left.legend()
    right.plot(
        epochs, [100 * row.train_accuracy for row in history], "o-", label="train (augmented)"
    )
    right.plot(epochs, [100 * row.val_accuracy for row in history], "o-", label="validation")
    right.set_xlabel("epoch")
    right.set_ylabel("accuracy (%)")
    right.legend()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
