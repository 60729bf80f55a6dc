"""The IDX reader, checksums, download and the validation split."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import shutil
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from model import data
from model.data import MnistFormatError, MnistUnavailableError, load_mnist, read_idx


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_set(folder: Path, n_train: int = 6, n_test: int = 4, labels_short_by: int = 0) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = rng.integers(0, 10, n - labels_short_by)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(idx_bytes(labels))


def test_reads_gzip_and_raw_identically(tmp_path: Path) -> None:
    array = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    (tmp_path / "a").write_bytes(idx_bytes(array))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(array)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), array)


def test_wrong_magic_number_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad-magic"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(100))
    with pytest.raises(MnistFormatError, match=r"bad-magic: wrong magic number 0x12340803"):
        read_idx(path)


def test_truncated_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "short.gz"
    full = idx_bytes(np.zeros((3, 28, 28)))
    path.write_bytes(gzip.compress(full[:-100]))
    with pytest.raises(MnistFormatError, match=r"short.gz: header promises 3x28x28 = 2,352"):
        read_idx(path)


def test_truncated_header_and_corrupt_gzip(tmp_path: Path) -> None:
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(MnistFormatError, match="tiny: too short"):
        read_idx(tmp_path / "tiny")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5)))[:-8])
    with pytest.raises(MnistFormatError, match=r"broken\.gz: corrupt gzip"):
        read_idx(tmp_path / "broken.gz")


def test_checksum_mismatch_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.arange(10)))
    with pytest.raises(MnistFormatError, match=r"labels: checksum mismatch"):
        read_idx(path, expected_md5="0" * 32)
    good = hashlib.md5(path.read_bytes()).hexdigest()
    assert read_idx(path, expected_md5=good).tolist() == list(range(10))


def test_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    write_set(tmp_path, labels_short_by=1)
    with pytest.raises(
        MnistFormatError, match=r"holds 6 images but .*train-labels.* holds 5 labels"
    ):
        load_mnist(tmp_path, verify=False)


def test_synthetic_set_fails_the_real_checksums(tmp_path: Path) -> None:
    write_set(tmp_path)
    assert len(load_mnist(tmp_path, verify=False).train_labels) == 6
    with pytest.raises(MnistFormatError, match="checksum mismatch"):
        load_mnist(tmp_path)


def test_given_folder_without_files_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(MnistUnavailableError, match=r"--data-dir / MNIST_DIR"):
        data.resolve_data_dir(tmp_path, tmp_path / "cache")


def test_offline_download_gives_one_clear_message(tmp_path: Path, monkeypatch) -> None:
    # Port 9 (discard) on loopback is closed: a real, immediate connection failure.
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/",))
    with pytest.raises(MnistUnavailableError) as info:
        data.resolve_data_dir(None, tmp_path / "cache")
    message = str(info.value)
    assert "could not be downloaded" in message
    assert "MNIST_DIR" in message and "--data-dir" in message


def test_download_from_a_mirror_fills_the_cache(
    tmp_path: Path, mnist_dir: Path, monkeypatch
) -> None:
    """A real HTTP download from a loopback mirror that serves the shared files."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_dir))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(
            data, "MIRRORS", ("http://127.0.0.1:9/", f"http://127.0.0.1:{server.server_port}/")
        )
        folder = data.resolve_data_dir(None, tmp_path / "cache")
    finally:
        server.shutdown()
    loaded = load_mnist(folder)
    assert loaded.train_images.shape == (60_000, 28, 28)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.gz" for s in data.MNIST_FILES)


def test_real_mnist_verifies_and_splits_deterministically(mnist_dir: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for stem in data.MNIST_FILES:  # the raw (uncompressed) form verifies too
        with gzip.open(mnist_dir / f"{stem}.gz") as src, (raw / stem).open("wb") as dst:
            shutil.copyfileobj(src, dst)
    mnist = load_mnist(raw)
    assert mnist.test_images.shape == (10_000, 28, 28) and mnist.test_labels.max() == 9
    train_x, train_y, val_x, val_y = mnist.split()
    assert (len(train_y), len(val_y)) == (55_000, 5_000)
    again = mnist.split()
    np.testing.assert_array_equal(val_x, again[2])
    # A partition of the 60,000: same labels and same ink in total, nothing lost or doubled.
    np.testing.assert_array_equal(
        np.bincount(train_y, minlength=10) + np.bincount(val_y, minlength=10),
        np.bincount(mnist.train_labels, minlength=10),
    )
    total_ink = mnist.train_images.sum(dtype=np.int64)
    assert train_x.sum(dtype=np.int64) + val_x.sum(dtype=np.int64) == total_ink
    assert np.bincount(val_y).min() > 400  # every digit is represented in validation
