"""What the app writes to and reads from the feedback store.

Plain functions taking a SQLAlchemy `Session` first, so the caller decides the unit
of work (`with session_scope() as session: ...` commits once at the end: one
transaction per submission). What is written arrives as a `db.submission` type,
checked when it was made; other arguments are checked here. Bad input raises
`ValueError` with a sentence saying what was wrong.

Reads return pandas DataFrames with fixed columns, even when empty, so a page can
draw a table or a chart without special cases. Statistics live in `db.analytics`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import validation as check
from db.filters import ALL, Filters
from db.schema import IMAGE_SIZE, ModelVersion, Prediction, utc_now
from db.submission import ModelIdentity, Submission

STATUSES = ("all", "labelled", "unlabelled", "wrong", "unsure")


@dataclass(frozen=True)
class StoredPrediction:
    """A stored prediction with its model version's name.

    What `get_prediction` returns; its fields are `list_predictions`' columns.
    """

    id: int
    created_at: datetime
    model_version_id: int
    model_name: str
    predicted_digit: int
    confidence: float
    probabilities: list[float]
    unsure: bool
    true_label: int | None
    labeled_at: datetime | None
    source: str
    latency_ms: float | None
    session_id: str | None
    client_request_id: str
    image: bytes
    strokes: list[list[list[float]]] | None
    canvas_width: int | None
    canvas_height: int | None


PREDICTION_COLUMNS = tuple(field.name for field in fields(StoredPrediction))
MODEL_VERSION_COLUMNS = (
    "id", "name", "architecture", "weights_sha256", "parameter_count", "test_accuracy",
    "created_at", "card",
)  # fmt: skip


def register_model_version(session: Session, model: ModelIdentity) -> int:
    """The id of the model version with these weights, registering it if it is new.

    Idempotent by `weights_sha256`: the same weights always map to the same row
    (the first registration's name and card are kept).
    """
    # Nearly every call (one per stored drawing) is for a model already registered:
    # one SELECT answers it, where the INSERT ... ON CONFLICT below needs two statements.
    known = session.connection().execute(_VERSION_ID, {"sha256": model.weights_sha256}).scalar()
    if known is not None:
        return int(known)
    statement = _insert(session, ModelVersion).values(**asdict(model))
    inserted = session.execute(
        statement.on_conflict_do_nothing(index_elements=["weights_sha256"]).returning(
            ModelVersion.id
        )
    ).scalar()
    return int(inserted) if inserted is not None else register_model_version(session, model)


def store(session: Session, submission: Submission) -> int:
    """Store one prediction (registering its model version) and return its id.

    Idempotent by `client_request_id`: the same submission again (a double click, a
    retried request, a replay) returns the first row's id and writes nothing, except
    that a submission with a label labels a row stored without one (or relabels it).
    `submission.created_at` None means the database's clock.
    """
    values = _prediction_values(submission, register_model_version(session, submission.model))
    labelled_now = submission.true_label is not None and submission.created_at is None
    statement = _upsert_prediction(_dialect(session), labelled_now)
    stored = session.connection().execute(statement, values).scalar()
    if stored is not None:
        return int(stored)
    return int(
        session.connection()
        .execute(_PREDICTION_ID, {"request_id": submission.client_request_id})
        .scalar_one()
    )


# The statements of a store (one per drawing), built once and run on the session's
# connection with their values as parameters: building them per call and passing
# through the ORM's bulk-insert layer took about half of a store's time.
_VERSION_ID = sa.select(ModelVersion.id).where(
    ModelVersion.weights_sha256 == sa.bindparam("sha256")
)
_PREDICTION_ID = sa.select(Prediction.id).where(
    Prediction.client_request_id == sa.bindparam("request_id")
)


@functools.cache
def _upsert_prediction(dialect: str, labelled_now: bool) -> Any:
    """INSERT ... ON CONFLICT of one prediction: a repeat may only add or change its label.

    `labelled_now`: labelled at the database's clock, as `created_at` is by default.
    """
    statement = _INSERTS[dialect](Prediction)
    if labelled_now:
        statement = statement.values(labeled_at=utc_now())
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=["client_request_id"],
        set_={"true_label": excluded.true_label, "labeled_at": excluded.labeled_at},
        where=excluded.true_label.is_not(None)
        & Prediction.true_label.is_distinct_from(excluded.true_label),
    ).returning(Prediction.id)


def _prediction_values(submission: Submission, model_version_id: int) -> dict[str, Any]:
    values = asdict(submission)
    del values["model"], values["drawing"]
    values["model_version_id"] = model_version_id
    if submission.created_at is None:
        del values["created_at"]
    if submission.true_label is not None and submission.created_at is not None:
        values["labeled_at"] = submission.created_at  # else the database's clock
    if submission.drawing is not None:
        values |= asdict(submission.drawing)
    return values


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _dialect(session: Session) -> str:
    dialect = session.get_bind().dialect.name
    if dialect not in _INSERTS:  # pragma: no cover
        raise ValueError(f"unsupported database dialect {dialect!r}")
    return dialect


def _insert(session: Session, model: type[ModelVersion] | type[Prediction]) -> Any:
    """INSERT for the session's database, with its ON CONFLICT clauses."""
    return _INSERTS[_dialect(session)](model)


def set_label(session: Session, prediction_id: int, label: int) -> None:
    """Record (or change) the digit a person says the drawing really is."""
    checked = check.digit(label, "label")
    _update_prediction(session, prediction_id, true_label=checked, labeled_at=utc_now())


def clear_label(session: Session, prediction_id: int) -> None:
    """Take a label back: the prediction counts as unlabelled again."""
    _update_prediction(session, prediction_id, true_label=None, labeled_at=None)


def delete_prediction(session: Session, prediction_id: int) -> None:
    """Remove a prediction for good (a drawing someone did not mean to submit)."""
    identifier = check.whole_number(prediction_id, "prediction_id")
    result = session.execute(sa.delete(Prediction).where(Prediction.id == identifier))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise ValueError(_no_prediction(identifier))


def get_prediction(session: Session, prediction_id: int) -> StoredPrediction:
    """One prediction, with the `list_predictions` columns."""
    identifier = check.whole_number(prediction_id, "prediction_id")
    row = session.execute(_prediction_query().where(Prediction.id == identifier)).first()
    if row is None:
        raise ValueError(_no_prediction(identifier))
    return StoredPrediction(**row._mapping)


def list_predictions(
    session: Session, filters: Filters = ALL, *, status: str = "all", limit: int | None = 100
) -> pd.DataFrame:
    """Recent predictions, newest first, with their images (784 bytes each).

    `status`: "all", "labelled", "unlabelled", "wrong" (labelled and mispredicted) or
    "unsure" (answered unsure, labelled or not). `limit=None` returns everything that
    matches.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    query = _prediction_query().where(*filters.on(Prediction.__table__))
    if status == "labelled":
        query = query.where(Prediction.true_label.is_not(None))
    elif status == "unlabelled":
        query = query.where(Prediction.true_label.is_(None))
    elif status == "wrong":
        query = query.where(
            Prediction.true_label.is_not(None), Prediction.true_label != Prediction.predicted_digit
        )
    elif status == "unsure":
        query = query.where(Prediction.unsure.is_(True))
    if limit is not None:
        query = query.limit(check.whole_number(limit, "limit", minimum=1))
    query = query.order_by(Prediction.created_at.desc(), Prediction.id.desc())
    frame = _frame(session.execute(query).all(), PREDICTION_COLUMNS)
    frame["true_label"] = frame["true_label"].astype("Int64")
    frame["unsure"] = frame["unsure"].astype(bool)
    frame["latency_ms"] = frame["latency_ms"].astype(float)
    return frame


def list_model_versions(session: Session) -> pd.DataFrame:
    """Every registered model version, newest first (for a model picker)."""
    query = sa.select(*(getattr(ModelVersion, c) for c in MODEL_VERSION_COLUMNS)).order_by(
        ModelVersion.created_at.desc(), ModelVersion.id.desc()
    )
    return _frame(session.execute(query).all(), MODEL_VERSION_COLUMNS)


def image_as_array(image: bytes) -> np.ndarray:
    """A stored image back as a 28x28 uint8 array (for thumbnails)."""
    return np.frombuffer(check.image_bytes(image), dtype=np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE)


def _prediction_query() -> sa.Select[Any]:
    columns = [
        ModelVersion.name.label(c) if c == "model_name" else getattr(Prediction, c)
        for c in PREDICTION_COLUMNS
    ]
    return sa.select(*columns).join(ModelVersion, ModelVersion.id == Prediction.model_version_id)


def _update_prediction(session: Session, prediction_id: int, **values: Any) -> None:
    identifier = check.whole_number(prediction_id, "prediction_id")
    result = session.execute(
        sa.update(Prediction).where(Prediction.id == identifier).values(**values)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise ValueError(_no_prediction(identifier))


def _no_prediction(identifier: int) -> str:
    return f"no prediction with id {identifier} (never saved, or deleted)"


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=list(columns))
    for column in ("created_at", "labeled_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
