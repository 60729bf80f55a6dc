"""Reading user images (uploads, CLI files) safely into arrays.

Images come from people: a photo of a digit, but also a 50 MB panorama, a renamed
PDF, a truncated PNG or a "decompression bomb" (a tiny file that claims 50,000 x
50,000 pixels). Each is refused with a message that says what is wrong, before any
large allocation happens.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB: a phone photo fits, a video does not
MAX_PIXELS = 40_000_000  # 40 megapixels, checked from the header before decoding


class ImageReadError(ValueError):
    """The bytes are not an image digitlab can read; the message says why."""


def read_image(source: bytes | Path, name: str | None = None) -> np.ndarray:
    """Decode PNG/JPEG/... bytes or a file into an RGBA or grey uint8 array."""
    if isinstance(source, Path):
        name = name or str(source)
        try:
            size = source.stat().st_size
        except OSError as err:
            raise ImageReadError(f"{name}: cannot read file ({err.strerror})") from err
        if size > MAX_UPLOAD_BYTES:
            raise ImageReadError(_too_large(name, size))
        source = source.read_bytes()
    name = name or "image"
    if len(source) > MAX_UPLOAD_BYTES:
        raise ImageReadError(_too_large(name, len(source)))
    if not source:
        raise ImageReadError(f"{name}: the file is empty")
    try:
        with Image.open(io.BytesIO(source)) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageReadError(
                    f"{name}: {width:,} x {height:,} pixels is more than the "
                    f"{MAX_PIXELS // 1_000_000} megapixels digitlab accepts"
                )
            image.load()
            image = ImageOps.exif_transpose(image)  # phone photos carry their rotation
            mode = "RGBA" if "A" in image.getbands() or image.mode == "P" else "L"
            return np.asarray(image.convert(mode))
    except ImageReadError:
        raise
    except UnidentifiedImageError as err:
        raise ImageReadError(f"{name}: not an image (PNG or JPEG expected)") from err
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"{name}: refused as a decompression bomb ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(f"{name}: corrupt or truncated image ({err})") from err


def _too_large(name: str, size: int) -> str:
    return (
        f"{name}: {size / 1_048_576:.1f} MB is larger than the "
        f"{MAX_UPLOAD_BYTES // 1_048_576} MB limit for images"
    )
