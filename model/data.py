"""MNIST: reading the IDX files, verifying them, downloading them, splitting them.

The four standard files are read from a folder the user names (`--data-dir` or
`MNIST_DIR`) or, failing that, from a cache that is filled once from a public
mirror. Every file's decompressed content is checked against the MD5 published with
the dataset, so a truncated download or a different "MNIST" never trains silently.
Malformed files raise `MnistFormatError` naming the file, never a numpy traceback.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

# file name -> MD5 of the decompressed content (the .gz bytes may differ by compressor)
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}

# Tried in order; both serve the original gzip archives.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

VALIDATION_SIZE = 5_000
SPLIT_SEED = 20_231  # fixed: the validation split must not move between runs

_IDX_DTYPES = {0x08: np.uint8}


class MnistFormatError(ValueError):
    """A data file is not a valid MNIST IDX file (the message names the file)."""


class MnistUnavailableError(RuntimeError):
    """MNIST is neither in the given folder nor in the cache, and cannot be downloaded."""


@dataclass(frozen=True)
class Mnist:
    """The dataset as uint8 arrays, with the checksums it was verified against."""

    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray  # (10000,) uint8
    checksums: dict[str, str]

    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(train images, train labels, validation images, validation labels).

        The validation split is 5,000 training images chosen with a fixed seed; it
        picks checkpoints, temperatures and thresholds. The test set never does.
        """
        order = np.random.default_rng(SPLIT_SEED).permutation(len(self.train_labels))
        val, train = order[:VALIDATION_SIZE], order[VALIDATION_SIZE:]
        return (
            self.train_images[train],
            self.train_labels[train],
            self.train_images[val],
            self.train_labels[val],
        )


def _read_bytes(path: Path) -> bytes:
    """The decompressed content of `path` (gzip is recognised by its magic bytes)."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise MnistFormatError(f"{path}: cannot read file ({err.strerror})") from err
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise MnistFormatError(f"{path}: corrupt gzip data ({err})") from err
    return raw


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Parse IDX bytes into an array, validating the header against the payload."""
    if len(data) < 4:
        raise MnistFormatError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    zero, dtype_code, ndim = int.from_bytes(data[:2], "big"), data[2], data[3]
    if zero != 0 or dtype_code not in _IDX_DTYPES or ndim not in (1, 3):
        raise MnistFormatError(
            f"{name}: wrong magic number 0x{data[:4].hex()} "
            "(expected 0x00000801 for labels or 0x00000803 for images)"
        )
    header_end = 4 + 4 * ndim
    if len(data) < header_end:
        raise MnistFormatError(f"{name}: truncated header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    payload = len(data) - header_end
    if payload != expected:
        raise MnistFormatError(
            f"{name}: header promises {'x'.join(map(str, shape))} = {expected:,} values "
            f"but the file holds {payload:,} (truncated or corrupt)"
        )
    return np.frombuffer(data, dtype=_IDX_DTYPES[dtype_code], offset=header_end).reshape(shape)


def read_idx(path: Path, expected_md5: str | None = None) -> np.ndarray:
    """Read one IDX file (gzip or raw), checking its content MD5 when one is given."""
    data = _read_bytes(path)
    if expected_md5 is not None:
        actual = hashlib.md5(data).hexdigest()
        if actual != expected_md5:
            raise MnistFormatError(
                f"{path}: checksum mismatch (MD5 of content {actual}, expected {expected_md5}); "
                "the file is corrupt or not the standard MNIST"
            )
    return parse_idx(data, str(path))


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _download(folder: Path) -> None:
    """Fetch the missing files into `folder` from the first mirror that answers."""
    folder.mkdir(parents=True, exist_ok=True)
    for stem in MNIST_FILES:
        if _find(folder, stem):
            continue
        target = folder / f"{stem}.gz"
        errors = []
        for mirror in MIRRORS:
            try:
                _fetch(mirror + target.name, target)
                break
            except (urllib.error.URLError, OSError) as err:
                errors.append(f"{mirror}: {err}")
        else:
            raise MnistUnavailableError(
                "MNIST is not available locally and could not be downloaded "
                f"({'; '.join(errors)}).\n"
                "Point digitlab at a local copy of the four IDX files "
                "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz):\n"
                "  python run_model.py --data-dir /path/to/mnist\n"
                "  or: export MNIST_DIR=/path/to/mnist"
            )


def _fetch(url: str, target: Path) -> None:
    partial = target.with_suffix(".part")
    with urllib.request.urlopen(url, timeout=30) as response, partial.open("wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
            while chunk := response.read(1 << 16):
                out.write(chunk)
                bar.update(len(chunk))
    shutil.move(partial, target)


def resolve_data_dir(data_dir: Path | None, cache_dir: Path) -> Path:
    """The folder to read: the one given (must hold the files), else the filled cache."""
    if data_dir is not None:
        missing = [stem for stem in MNIST_FILES if _find(data_dir, stem) is None]
        if missing:
            raise MnistUnavailableError(
                f"{data_dir} does not hold the MNIST files {', '.join(missing)} "
                "(gzip or raw IDX). Point --data-dir / MNIST_DIR at the folder that has them."
            )
        return data_dir
    _download(cache_dir)
    return cache_dir


def load_mnist(folder: Path, verify: bool = True) -> Mnist:
    """Read and check all four files from `folder` (see `resolve_data_dir`)."""
    arrays = {}
    for stem, md5 in MNIST_FILES.items():
        path = _find(folder, stem)
        if path is None:
            raise MnistUnavailableError(f"{folder / stem}.gz: file not found")
        arrays[stem] = (path, read_idx(path, md5 if verify else None))
    for images, labels in (("train-images", "train-labels"), ("t10k-images", "t10k-labels")):
        (img_path, img), (lab_path, lab) = (
            arrays[images + "-idx3-ubyte"],
            arrays[labels + "-idx1-ubyte"],
        )
        if img.ndim != 3 or img.shape[1:] != (28, 28):
            raise MnistFormatError(f"{img_path}: expected N x 28 x 28 images, got {img.shape}")
        if lab.ndim != 1:
            raise MnistFormatError(f"{lab_path}: expected a vector of labels, got {lab.shape}")
        if len(img) != len(lab):
            raise MnistFormatError(
                f"{img_path} holds {len(img):,} images but {lab_path} holds {len(lab):,} labels"
            )
        if lab.size and lab.max() > 9:
            raise MnistFormatError(f"{lab_path}: label {int(lab.max())} is outside 0-9")
    return Mnist(
        train_images=arrays["train-images-idx3-ubyte"][1],
        train_labels=arrays["train-labels-idx1-ubyte"][1],
        test_images=arrays["t10k-images-idx3-ubyte"][1],
        test_labels=arrays["t10k-labels-idx1-ubyte"][1],
        checksums=dict(MNIST_FILES) if verify else {},
    )
