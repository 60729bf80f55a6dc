"""Reading uploads and CLI files: limits, clear refusals, and fuzzing with hypothesis.

The promise under fuzzing: whatever bytes arrive, `read_image` returns a uint8
picture or raises `ImageReadError` (a ValueError with a sentence), and the picture
then gives a 28 x 28 MNIST-form digit, None, or a ValueError from `canvas_to_mnist`;
never another exception, never a crash.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.image_io import MAX_UPLOAD_BYTES, ImageReadError, read_image
from model.preprocess import canvas_to_mnist
from tests.bad_images import bad_uploads, png_bytes


def _digit_pictures() -> list[bytes]:
    """A drawn 1 as PNG (grey, RGBA) and JPEG: the seeds the fuzzer damages."""
    ink = np.zeros((96, 96), np.uint8)
    ink[12:84, 44:52] = 255
    rgba = np.dstack([ink, ink, ink, np.full_like(ink, 255)])
    jpeg = io.BytesIO()
    Image.fromarray(255 - ink).save(jpeg, format="JPEG", quality=80)
    return [png_bytes(ink), png_bytes(rgba), jpeg.getvalue()]


SEEDS = _digit_pictures()


def read_then_preprocess(data: bytes) -> None:
    try:
        picture = read_image(data, "fuzz.png")
    except ImageReadError as error:
        assert str(error).startswith("fuzz.png: ")
        return
    assert isinstance(picture, np.ndarray) and picture.dtype == np.uint8
    assert picture.ndim == 2 or (picture.ndim == 3 and picture.shape[2] == 4)
    try:
        out = canvas_to_mnist(picture)
    except ValueError:
        return
    assert out is None or (out.shape == (28, 28) and out.dtype == np.uint8)


@pytest.mark.parametrize("name", list(bad_uploads()))
def test_bad_uploads_are_refused_or_blank_with_a_clear_message(name: str) -> None:
    content, reason = bad_uploads()[name]
    if reason == "no digit":
        assert canvas_to_mnist(read_image(content, name)) is None
        return
    with pytest.raises(ImageReadError, match=reason) as caught:
        read_image(content, name)
    assert str(caught.value).startswith(f"{name}: ")


def test_the_size_limit_holds_to_the_byte_for_bytes_and_for_files(tmp_path: Path) -> None:
    at_limit = SEEDS[0] + bytes(MAX_UPLOAD_BYTES - len(SEEDS[0]))  # trailing bytes are ignored
    assert read_image(at_limit, "ok.png").shape == (96, 96)
    with pytest.raises(ImageReadError, match="larger than the 10 MB limit"):
        read_image(at_limit + b"\0", "over.png")
    big = tmp_path / "over.png"
    big.write_bytes(at_limit + b"\0")
    with pytest.raises(ImageReadError, match=rf"{big}: 10\.0 MB is larger"):
        read_image(big)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_any_bytes_are_a_picture_or_a_clear_refusal(data: bytes) -> None:
    read_then_preprocess(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    cut=st.integers(min_value=1),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=8),
)
def test_damaged_pngs_and_jpegs_are_a_picture_or_a_clear_refusal(
    seed: bytes, cut: int, flips: list[tuple[int, int]]
) -> None:
    """Real files, truncated anywhere and with bytes flipped anywhere (headers included)."""
    damaged = bytearray(seed[: max(1, cut % (len(seed) + 1))])
    for position, mask in flips:
        damaged[position % len(damaged)] ^= mask
    read_then_preprocess(bytes(damaged))
