"""Checks on what the app hands the repository, each failing with a sentence.

The database's CHECK constraints are the last line of defence; these come first so
that a person sees "label must be between 0 and 9, got 12" rather than an
IntegrityError, and so that nothing is written when something is wrong.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from db.schema import IMAGE_BYTES, IMAGE_SIZE, N_CLASSES, SOURCES

_SHA256 = re.compile(r"[0-9a-f]{64}")
PROBABILITY_SUM_TOLERANCE = 1e-3


def whole_number(value: Any, what: str, minimum: int | None = None) -> int:
    """`value` as an int; bools and floats are refused (3.7 is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{what} must be a whole number, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {number}")
    return number


def digit(value: Any, what: str) -> int:
    """A digit 0..9 (a predicted digit or a label)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{what} must be a digit from 0 to 9, got {value!r}")
    if not 0 <= int(value) <= 9:
        raise ValueError(f"{what} must be between 0 and 9, got {int(value)}")
    return int(value)


def fraction(value: Any, what: str) -> float:
    """A finite number in [0, 1] (a confidence, a probability, an accuracy)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{what} must be a number between 0 and 1, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{what} must be between 0 and 1, got {number}")
    return number


def probabilities(values: Any) -> list[float]:
    """Ten class probabilities in [0, 1] that sum to 1 (within float rounding)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"probabilities must be a list of {N_CLASSES} numbers, got {values!r}")
    checked = [fraction(p, f"probabilities[{i}]") for i, p in enumerate(list(values))]
    if len(checked) != N_CLASSES:
        raise ValueError(f"probabilities must have {N_CLASSES} values, got {len(checked)}")
    total = math.fsum(checked)
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1, they sum to {total:.6f}")
    return checked


def image_bytes(image: Any) -> bytes:
    """The 28x28 picture as 784 bytes, row by row; accepts bytes or a uint8 array."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(
                f"image array must be uint8 (0..255), got {image.dtype}; "
                "scale and convert it before logging"
            )
        data = np.ascontiguousarray(image).tobytes()
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    else:
        raise ValueError(f"image must be bytes or a uint8 array, got {type(image).__name__}")
    if len(data) != IMAGE_BYTES:
        raise ValueError(
            f"image must be {IMAGE_BYTES} bytes (a {IMAGE_SIZE}x{IMAGE_SIZE} uint8 picture), "
            f"got {len(data)}"
        )
    return data


def source(value: Any) -> str:
    if value not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)}; got {value!r}")
    return str(value)


def optional_latency(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"latency_ms must be a number of milliseconds, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"latency_ms must be zero or more, got {number}")
    return number


def text(value: Any, what: str, max_length: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters, got {len(value)}")
    return value


def request_id(value: str | None) -> str:
    """The client's idempotency key; a fresh one when the caller has none."""
    return uuid.uuid4().hex if value is None else str(text(value, "client_request_id", 64))


def sha256(value: Any) -> str:
    normalised = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(normalised, str) or not _SHA256.fullmatch(normalised):
        raise ValueError(f"weights_sha256 must be 64 hexadecimal characters, got {value!r}")
    return normalised


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a dict, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be plain JSON (no NaN, no objects): {error}") from None
    return value


def moment(value: date | datetime | None, what: str) -> datetime | None:
    """An aware UTC datetime; a date means its midnight UTC, a naive datetime means UTC."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    raise ValueError(f"{what} must be a date or a datetime, got {value!r}")


def time_range(
    since: date | datetime | None, until: date | datetime | None
) -> tuple[datetime | None, datetime | None]:
    """[since, until) in UTC; refuses an empty or reversed range."""
    start, end = moment(since, "since"), moment(until, "until")
    if start is not None and end is not None and start >= end:
        raise ValueError(f"since ({start.isoformat()}) must be before until ({end.isoformat()})")
    return start, end
