"""What the app writes to and reads from the feedback store.

Plain functions taking a SQLAlchemy `Session` first, so the caller decides the unit
of work (`with session_scope() as session: ...` commits once at the end: one
transaction per submission). Every argument is checked before anything is written;
bad input raises `ValueError` with a sentence saying what was wrong.

Reads return pandas DataFrames with fixed columns, even when empty, so a page can
draw a table or a chart without special cases. Statistics live in `db.analytics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import validation as check
from db.schema import IMAGE_SIZE, ModelVersion, Prediction, utc_now

STATUSES = ("all", "labelled", "unlabelled", "wrong")

PREDICTION_COLUMNS = (
    "id", "created_at", "model_version_id", "model_name", "predicted_digit", "confidence",
    "probabilities", "unsure", "true_label", "labeled_at", "source", "latency_ms",
    "session_id", "client_request_id", "image",
)  # fmt: skip
MODEL_VERSION_COLUMNS = (
    "id", "name", "architecture", "weights_sha256", "parameter_count", "test_accuracy",
    "created_at", "card",
)  # fmt: skip


def register_model_version(
    session: Session,
    *,
    name: str,
    architecture: str,
    weights_sha256: str,
    parameter_count: int,
    test_accuracy: float | None,
    card: dict[str, Any],
) -> int:
    """The id of the model version with these weights, registering it if it is new.

    Idempotent by `weights_sha256`: the same weights always map to the same row
    (the first registration's name and card are kept).
    """
    values = {
        "name": check.text(name, "name", 200),
        "architecture": check.text(architecture, "architecture", 50),
        "weights_sha256": check.sha256(weights_sha256),
        "parameter_count": check.whole_number(parameter_count, "parameter_count", minimum=0),
        "test_accuracy": None
        if test_accuracy is None
        else check.fraction(test_accuracy, "test_accuracy"),
        "card": check.json_object(card, "card"),
    }
    # Nearly every call (one per labelled drawing) is for a model already registered:
    # one SELECT answers it, where the INSERT ... ON CONFLICT below needs two statements.
    known = session.execute(
        sa.select(ModelVersion.id).where(ModelVersion.weights_sha256 == values["weights_sha256"])
    ).scalar()
    if known is not None:
        return int(known)
    return _insert_unless_present(session, ModelVersion, values, key="weights_sha256")


def log_prediction(
    session: Session,
    *,
    model_version_id: int,
    predicted_digit: int,
    confidence: float,
    probabilities: Sequence[float] | np.ndarray,
    image: bytes | np.ndarray,
    source: str = "canvas",
    unsure: bool = False,
    latency_ms: float | None = None,
    session_id: str | None = None,
    client_request_id: str | None = None,
    true_label: int | None = None,
    created_at: datetime | None = None,
) -> int:
    """Store one prediction and return its id.

    Idempotent by `client_request_id`: sending the same submission again (a double
    click, a retried request) returns the first row's id and writes nothing. Give
    `true_label` when the person labelled it in the same step. `created_at` (default:
    the database's clock) is for submissions replayed from the outbox after an
    outage, so that they count on the day they were made, not the day they arrived.
    """
    version_id = check.whole_number(model_version_id, "model_version_id")
    values = {
        "model_version_id": version_id,
        "predicted_digit": check.digit(predicted_digit, "predicted_digit"),
        "confidence": check.fraction(confidence, "confidence"),
        "probabilities": check.probabilities(probabilities),
        "image": check.image_bytes(image),
        "source": check.source(source),
        "unsure": bool(unsure),
        "latency_ms": check.optional_latency(latency_ms),
        "session_id": check.text(session_id, "session_id", 64, optional=True),
        "client_request_id": check.request_id(client_request_id),
    }
    made_at = check.moment(created_at, "created_at")
    if made_at is not None:
        values["created_at"] = made_at
    if true_label is not None:
        values["true_label"] = check.digit(true_label, "true_label")
        values["labeled_at"] = utc_now() if made_at is None else made_at
    # The foreign key, not a SELECT before the INSERT, says whether the version exists:
    # one round trip less on every write (the benchmark's p50 is a few milliseconds).
    # The failed INSERT spoils the transaction, which the caller's scope rolls back.
    try:
        return _insert_unless_present(session, Prediction, values, key="client_request_id")
    except sa.exc.IntegrityError as err:
        if not _is_foreign_key_violation(err):
            raise
        raise ValueError(
            f"no model version with id {version_id}; register it with register_model_version"
        ) from None


def _is_foreign_key_violation(err: sa.exc.IntegrityError) -> bool:
    """True for PostgreSQL's SQLSTATE 23503 and SQLite's 'FOREIGN KEY constraint failed'."""
    return getattr(err.orig, "pgcode", None) == "23503" or "FOREIGN KEY constraint failed" in str(
        err.orig
    )


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


def get_prediction(session: Session, prediction_id: int) -> dict[str, Any]:
    """One prediction as a dict with the `list_predictions` columns."""
    identifier = check.whole_number(prediction_id, "prediction_id")
    row = session.execute(_prediction_query().where(Prediction.id == identifier)).first()
    if row is None:
        raise ValueError(_no_prediction(identifier))
    return dict(row._mapping)


def list_predictions(
    session: Session,
    *,
    model_version_id: int | None = None,
    status: str = "all",
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    limit: int | None = 100,
) -> pd.DataFrame:
    """Recent predictions, newest first, with their images (784 bytes each).

    `status`: "all", "labelled", "unlabelled" or "wrong" (labelled and mispredicted).
    `since` is inclusive and `until` exclusive; dates mean midnight UTC. `limit=None`
    returns everything that matches.
    """
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    start, end = check.time_range(since, until)
    query = _prediction_query()
    if model_version_id is not None:
        query = query.where(
            Prediction.model_version_id == check.whole_number(model_version_id, "model_version_id")
        )
    if status == "labelled":
        query = query.where(Prediction.true_label.is_not(None))
    elif status == "unlabelled":
        query = query.where(Prediction.true_label.is_(None))
    elif status == "wrong":
        query = query.where(
            Prediction.true_label.is_not(None), Prediction.true_label != Prediction.predicted_digit
        )
    if start is not None:
        query = query.where(Prediction.created_at >= start)
    if end is not None:
        query = query.where(Prediction.created_at < end)
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


def _insert_unless_present(
    session: Session, model: type[ModelVersion] | type[Prediction], values: dict[str, Any], key: str
) -> int:
    """INSERT ... ON CONFLICT (key) DO NOTHING, then the id of whichever row holds `key`.

    Safe against two requests racing: the database, not a prior SELECT, decides.
    """
    dialect = session.get_bind().dialect.name
    table = model.__table__
    if dialect == "postgresql":
        statement: Any = postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    else:  # pragma: no cover - digitlab supports PostgreSQL and SQLite only
        raise ValueError(f"unsupported database dialect {dialect!r}")
    inserted = session.execute(statement.values(**values).returning(table.c.id)).scalar()
    if inserted is not None:
        return int(inserted)
    existing = session.execute(sa.select(table.c.id).where(table.c[key] == values[key])).scalar()
    return int(existing)


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records([tuple(row) for row in rows], columns=list(columns))
    for column in ("created_at", "labeled_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
