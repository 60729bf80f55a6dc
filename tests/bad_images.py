"""Hostile and broken image files, made in memory, shared by the model, CLI and app tests.

Why generated, not committed: a decompression bomb is a few dozen bytes of header
that claim a huge picture, and a 50 MB upload is just 50 MB; neither belongs in git.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

FIFTY_MB = 50 * 1024 * 1024


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header claims width x height pixels, with almost no data.

    The decompression bomb of the issue: a reader that trusts the header allocates
    width x height bytes (2.5 GB for 50,000 x 50,000) before finding the data short.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit grey
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """name -> (file content, what the message must say): none of them is a digit."""
    digit = np.zeros((280, 280), np.uint8)
    digit[40:240, 130:150] = 255
    one_pixel = png_bytes(np.full((1, 1), 255, np.uint8))
    all_ink = png_bytes(np.zeros((280, 280), np.uint8))
    return {
        "empty.png": (b"", "the file is empty"),
        "notes.png": (b"this is not a picture", "not an image"),
        "truncated.png": (png_bytes(digit)[:300], "corrupt or truncated"),
        "huge.png": (b"\x89PNG" + bytes(FIFTY_MB), "50.0 MB is larger than the 10 MB limit"),
        "bomb.png": (png_claiming(50_000, 50_000), "decompression bomb"),
        "wide.png": (png_claiming(10_000, 5_000), "more than the 40 megapixels"),
        "one-pixel.png": (one_pixel, "no digit"),
        "all-ink.png": (all_ink, "no digit"),
    }
