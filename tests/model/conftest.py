"""Fixtures for model tests: the real MNIST, read once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.data import Mnist, load_mnist
from settings import REPO_ROOT, get_settings


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """MNIST_DIR if set, else the shared copy beside the repository (CI's layout)."""
    folder = get_settings().mnist_dir or REPO_ROOT.parent / "shared" / "datasets" / "mnist"
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST not found in {folder}: set MNIST_DIR to a folder with the IDX files")
    return folder


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def mnist_test_digits(mnist: Mnist) -> tuple[np.ndarray, np.ndarray]:
    """(10000 x 28 x 28 uint8 images, 10000 labels) of the MNIST test set."""
    return mnist.test_images, mnist.test_labels
