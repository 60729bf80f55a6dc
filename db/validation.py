"""Checks on what the app hands the repository, each failing with a sentence.

The database's CHECK constraints are the last line of defence; these come first so
that a person sees "label must be between 0 and 9, got 12" rather than an
IntegrityError, and so that nothing is written when something is wrong.

Every check takes `(value, what)` and returns the value normalised, so a field can
declare its constraint once on its type, `Annotated[int, Rule(digit)]`, and
`check_fields` applies them all when the object is made (`db.submission`).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import typing
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np

from db.schema import IMAGE_BYTES, IMAGE_SIZE, N_CLASSES, SOURCES

_SHA256 = re.compile(r"[0-9a-f]{64}")
PROBABILITY_SUM_TOLERANCE = 1e-3


class Rule:
    """A field's constraint, declared on its type: `Annotated[str, Rule(text, max_length=64)]`.

    Calls `check(value, field name, **options)`; `optional=True` lets None through.
    """

    def __init__(self, check: Callable[..., Any], *, optional: bool = False, **options: Any):
        self.check, self.optional, self.options = check, optional, options

    def __call__(self, value: Any, what: str) -> Any:
        if value is None and self.optional:
            return None
        return self.check(value, what, **self.options)


def check_fields(instance: Any) -> None:
    """Apply each field's `Rule` to a (frozen) dataclass, keeping the normalised values.

    Call it from `__post_init__`: the first invalid field raises ValueError.
    """
    for name, rule in _rules(type(instance)).items():
        object.__setattr__(instance, name, rule(getattr(instance, name), name))


@functools.cache
def _rules(cls: type) -> dict[str, Rule]:
    hints = typing.get_type_hints(cls, include_extras=True)
    rules = {}
    for field in dataclasses.fields(cls):
        for rule in getattr(hints[field.name], "__metadata__", ()):
            if isinstance(rule, Rule):
                rules[field.name] = rule
    return rules


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


def flag(value: Any, what: str) -> bool:
    """A yes/no (Python's or numpy's bool)."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{what} must be True or False, got {value!r}")
    return bool(value)


def probabilities(values: Any, what: str = "probabilities") -> list[float]:
    """Ten class probabilities in [0, 1] that sum to 1 (within float rounding)."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{what} must be a list of {N_CLASSES} numbers, got {values!r}")
    checked = [fraction(p, f"{what}[{i}]") for i, p in enumerate(list(values))]
    if len(checked) != N_CLASSES:
        raise ValueError(f"{what} must have {N_CLASSES} values, got {len(checked)}")
    total = math.fsum(checked)
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise ValueError(f"{what} must sum to 1, they sum to {total:.6f}")
    return checked


def image_bytes(image: Any, what: str = "image") -> bytes:
    """The 28x28 picture as 784 bytes, row by row; accepts bytes or a uint8 array."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise ValueError(
                f"{what} array must be uint8 (0..255), got {image.dtype}; "
                "scale and convert it before logging"
            )
        data = np.ascontiguousarray(image).tobytes()
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    else:
        raise ValueError(f"{what} must be bytes or a uint8 array, got {type(image).__name__}")
    if len(data) != IMAGE_BYTES:
        raise ValueError(
            f"{what} must be {IMAGE_BYTES} bytes (a {IMAGE_SIZE}x{IMAGE_SIZE} uint8 picture), "
            f"got {len(data)}"
        )
    return data


def source(value: Any, what: str = "source") -> str:
    if value not in SOURCES:
        raise ValueError(f"{what} must be one of {', '.join(SOURCES)}; got {value!r}")
    return str(value)


def milliseconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{what} must be a number of milliseconds, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{what} must be zero or more, got {number}")
    return number


def text(value: Any, what: str, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} must be at most {max_length} characters, got {len(value)}")
    return value


def strokes(value: Any, what: str, max_points: int) -> list[list[list[float]]]:
    """Strokes as the canvas reports them: a list of strokes, each a list of [x, y]."""
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{what} must be a non-empty list of strokes, got {value!r:.80}")
    checked, points = [], 0
    for n, stroke in enumerate(value):
        if not isinstance(stroke, list | tuple) or not stroke:
            raise ValueError(f"{what}[{n}] must be a non-empty list of [x, y] points")
        checked.append([_point(point, f"{what}[{n}]") for point in stroke])
        points += len(stroke)
    if points > max_points:
        raise ValueError(f"{what} must have at most {max_points} points, got {points}")
    return checked


def _point(value: Any, what: str) -> list[float]:
    numbers = value if isinstance(value, list | tuple) and len(value) == 2 else ()
    if not numbers or not all(_finite(number) for number in numbers):
        raise ValueError(f"{what} must hold [x, y] pairs of finite numbers, got {value!r:.80}")
    return [float(number) for number in numbers]


def _finite(value: Any) -> bool:
    real = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    return real and math.isfinite(value)


def sha256(value: Any, what: str = "weights_sha256") -> str:
    normalised = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(normalised, str) or not _SHA256.fullmatch(normalised):
        raise ValueError(f"{what} must be 64 hexadecimal characters, got {value!r}")
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
