"""Drawings in and out of the store as plain values: for export, import and fine-tuning.

Images go out as the 784 stored bytes (the 28x28 the model saw) and the caller decodes
them; strokes and canvas sizes as the canvas reported them. Import is idempotent by
request id: `known_request_ids` says which of a file's drawings are already stored,
`store_drawing` writes one (prediction, label, strokes) in the caller's transaction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import repository
from db import validation as check
from db.schema import Prediction

Strokes = list[list[list[float]]]


@dataclass(frozen=True)
class StoredDrawing:
    prediction_id: int
    request_id: str
    image: bytes  # 28 x 28 uint8, row by row
    label: int | None
    predicted_digit: int
    session_id: str | None
    strokes: Strokes | None
    canvas_size: tuple[int, int] | None
    created_at: datetime
    source: str


@dataclass(frozen=True)
class NewDrawing:
    """What `store_drawing` writes: the serving model's answer and the drawing's facts."""

    model_version_id: int
    predicted_digit: int
    confidence: float
    probabilities: Sequence[float]
    unsure: bool
    image: bytes
    label: int | None
    request_id: str
    session_id: str | None = None
    strokes: Strokes | None = None
    canvas_size: tuple[int, int] | None = None
    created_at: datetime | None = None


def stored_drawings(
    session: Session, *, labelled_only: bool = False, ids: Sequence[int] | None = None
) -> list[StoredDrawing]:
    """Every stored drawing, oldest first (labelled ones only, or these ids, when asked)."""
    p = Prediction
    query = sa.select(
        p.id, p.client_request_id, p.image, p.true_label, p.predicted_digit, p.session_id,
        p.strokes, p.canvas_width, p.canvas_height, p.created_at, p.source,
    ).order_by(p.created_at, p.id)  # fmt: skip
    if labelled_only:
        query = query.where(p.true_label.is_not(None))
    if ids is not None:
        query = query.where(p.id.in_([check.whole_number(i, "id") for i in ids]))
    return [_stored(row) for row in session.execute(query)]


def _stored(row: Any) -> StoredDrawing:
    size = None if row.canvas_width is None else (row.canvas_width, row.canvas_height)
    return StoredDrawing(
        int(row.id), row.client_request_id, bytes(row.image), row.true_label,
        row.predicted_digit, row.session_id, row.strokes, size, row.created_at, row.source,
    )  # fmt: skip


def known_request_ids(session: Session, request_ids: Iterable[str]) -> set[str]:
    """Which of these request ids are stored already."""
    wanted = list(dict.fromkeys(request_ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 500):  # stay under every driver's parameter limit
        chunk = wanted[start : start + 500]
        query = sa.select(Prediction.client_request_id).where(
            Prediction.client_request_id.in_(chunk)
        )
        found.update(session.execute(query).scalars())
    return found


def store_drawing(session: Session, drawing: NewDrawing) -> int:
    """Store one drawing with its prediction and label; idempotent by request id."""
    strokes = check_strokes(drawing.strokes, drawing.canvas_size)
    prediction_id = repository.log_prediction(
        session, model_version_id=drawing.model_version_id,
        predicted_digit=drawing.predicted_digit, confidence=drawing.confidence,
        probabilities=drawing.probabilities, image=drawing.image,
        source="upload" if strokes is None else "canvas", unsure=drawing.unsure,
        session_id=drawing.session_id, client_request_id=drawing.request_id,
        true_label=drawing.label, created_at=drawing.created_at,
    )  # fmt: skip
    if drawing.canvas_size is not None:
        width, height = drawing.canvas_size
        session.execute(
            sa.update(Prediction)
            .where(Prediction.id == prediction_id)
            .values(strokes=strokes, canvas_width=width, canvas_height=height)
        )
    return prediction_id


def check_strokes(strokes: Any, canvas_size: Any) -> Strokes | None:
    """Strokes as lists of [x, y] finite numbers, with a positive [width, height] beside them."""
    if canvas_size is not None:
        if not isinstance(canvas_size, Sequence) or len(canvas_size) != 2:
            raise ValueError(f"canvas_size must be [width, height], got {canvas_size!r}")
        for side in canvas_size:
            check.whole_number(side, "canvas_size", minimum=1)
    if strokes is None:
        return None
    if canvas_size is None:
        raise ValueError("strokes need their canvas_size ([width, height] in pixels)")
    if not isinstance(strokes, list) or not all(isinstance(s, list) for s in strokes):
        raise ValueError("strokes must be a list of strokes, each a list of [x, y] points")
    for stroke in strokes:
        for point in stroke:
            if not _is_point(point):
                raise ValueError(f"a stroke point must be [x, y] numbers, got {point!r}")
    return [[[float(x), float(y)] for x, y in stroke] for stroke in strokes]


def _is_point(point: Any) -> bool:
    return (
        isinstance(point, list | tuple)
        and len(point) == 2
        and all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in point
        )
    )
