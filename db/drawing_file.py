"""The JSON Lines file of drawings that `import-drawings` reads and `export-drawings` writes.

One drawing per line: `image_png` (base64 PNG, a canvas of any size or a 28x28),
`label` (0-9, or null for an unlabelled drawing, as a full export writes them), and
optional `session` (who drew it), `strokes` ([[[x, y], ...], ...] canvas pixels, y
down), `canvas_size` ([w, h]), `created_at` (ISO 8601) and `request_id` (the
idempotency key; without one, a hash of the line's drawing stands in, so the same
file twice stores nothing new).
An imported PNG stays bytes here: the command line decodes it through the app's own
path. An exported image is the stored 28x28, encoded here as a greyscale PNG.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from PIL import Image

from db import validation as check
from db.drawings import StoredDrawing
from db.schema import IMAGE_SIZE
from db.submission import Drawing

FIELDS = ("image_png", "label", "session", "strokes", "canvas_size", "created_at", "request_id")


@dataclass(frozen=True)
class DrawingRecord:
    png: bytes
    label: int | None
    request_id: str
    session: str | None = None
    drawing: Drawing | None = None  # strokes and canvas size; None for an upload
    created_at: datetime | None = None


def parse_line(line: str) -> DrawingRecord:
    """One line of the file as a record; ValueError says what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object with at least image_png and label")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    png = _png(data.get("image_png"))
    if "label" not in data:
        raise ValueError("no label: give the digit 0-9 (null only for an unlabelled drawing)")
    label = None if data["label"] is None else check.digit(data["label"], "label")
    return DrawingRecord(
        png=png, label=label,
        request_id=_request_id(data.get("request_id"), png, data),
        session=None if data.get("session") is None else check.text(data["session"], "session", 64),
        drawing=_drawing(data.get("strokes"), data.get("canvas_size")),
        created_at=_moment(data.get("created_at")),
    )  # fmt: skip


def format_lines(drawings: list[StoredDrawing]) -> str:
    """Stored drawings as the file's text, one line each (the 28x28 image as its PNG)."""
    return "".join(format_line(drawing) + "\n" for drawing in drawings)


def format_line(drawing: StoredDrawing) -> str:
    return json.dumps(
        {
            "image_png": base64.b64encode(_png28(drawing.image)).decode("ascii"),
            "label": drawing.label,
            "session": drawing.session_id,
            "strokes": drawing.strokes,
            "canvas_size": None if drawing.canvas_size is None else list(drawing.canvas_size),
            "created_at": drawing.created_at.isoformat(),
            "request_id": drawing.request_id,
        },
        separators=(",", ":"),
    )


def _drawing(strokes: Any, size: Any) -> Drawing | None:
    if strokes is None and size is None:
        return None
    if strokes is None or not isinstance(size, list) or len(size) != 2:
        raise ValueError("strokes and canvas_size [width, height] go together, or neither")
    return Drawing(strokes=strokes, canvas_width=size[0], canvas_height=size[1])


def _png28(image: bytes) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.frombuffer(image, np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE), "L").save(
        buffer, "PNG"
    )
    return buffer.getvalue()


def _png(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise ValueError("no image: image_png must hold a base64 PNG")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("image_png is not valid base64") from None


def _request_id(value: Any, png: bytes, data: dict[str, Any]) -> str:
    if value is not None:
        return check.text(value, "request_id", 64)
    digest = hashlib.sha256(png)
    digest.update(json.dumps([data.get(f) for f in FIELDS[1:6]], sort_keys=True).encode())
    return f"import-{digest.hexdigest()[:57]}"


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"created_at must be an ISO 8601 time, got {value!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
