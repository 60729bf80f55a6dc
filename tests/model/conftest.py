"""Fixtures for model tests: the real MNIST, read once per session."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from settings import REPO_ROOT, get_settings


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """MNIST_DIR if set, else the shared copy beside the repository (CI's layout)."""
    folder = get_settings().mnist_dir or REPO_ROOT.parent / "shared" / "datasets" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found in {folder}: set MNIST_DIR to a folder with the IDX files")
    return folder


@pytest.fixture(scope="session")
def mnist_test_digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(10000 x 28 x 28 uint8 images, 10000 labels) of the MNIST test set.

    A stop-gap reader (IDX header skipped: 16 bytes for images, 8 for labels) so the
    preprocessing tests do not wait for model.data; swap for
    `load_mnist(mnist_dir).test_images / .test_labels` once both are on one branch.
    """
    with gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz") as file:
        images = np.frombuffer(file.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as file:
        labels = np.frombuffer(file.read(), dtype=np.uint8, offset=8)
    assert len(images) == len(labels) == 10_000
    return images, labels
