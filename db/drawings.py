"""Drawings in and out of the store as plain values: for export, import and fine-tuning.

Images go out as the 784 stored bytes (the 28x28 the model saw) and the caller decodes
them; strokes and canvas sizes as the canvas reported them. Drawings go in as
`Submission`s (`repository.store`); `known_request_ids` says which of a file's
drawings are stored already, so an import predicts and writes only the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

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
