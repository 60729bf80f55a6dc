"""The feedback store's tables, identical on PostgreSQL and SQLite.

`model_versions` (one row per distinct weights file, found again by its SHA-256) and
`predictions` (one row per submitted drawing, with its strokes when it was drawn on
the canvas: migration 0004); `prediction_stats`, a summary of the labelled
predictions that triggers keep (migration 0003); the learning loop's
`model_aliases`, `alias_changes` and `finetune_jobs` (migration 0005). The views that
analysts and the dashboard read are created by migrations (`db/migrations/`) and described
in `db.views`; they are not part of this metadata on purpose, so that Alembic's
autogenerate never tries to create them as tables.

Where the two databases differ, the type or constraint says so in one place:
probabilities are a float array on PostgreSQL and JSON on SQLite; timestamps are
`timestamptz` on PostgreSQL and UTC text on SQLite (read back as aware UTC datetimes
on both).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import FunctionElement

IMAGE_SIZE = 28
IMAGE_BYTES = IMAGE_SIZE * IMAGE_SIZE
N_CLASSES = 10
SOURCES = ("canvas", "upload")

# Named constraints, so migrations can refer to them and both databases agree.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out, whatever the database stores.

    SQLite has no time zones and SQLAlchemy silently drops `tzinfo` there, so values
    are converted to UTC before they are written and marked UTC when read back.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class utc_now(FunctionElement[datetime]):  # noqa: N801 -- reads like the SQL function it is
    """The database's current time, in the same text form SQLAlchemy writes on SQLite.

    SQLite's CURRENT_TIMESTAMP has no fraction ('2026-01-02 03:04:05') while bound
    datetimes have six digits ('2026-01-02 03:04:05.000000'); as text they compare
    wrongly at the same second, so the SQLite form pads milliseconds to six digits.
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(utc_now)
def _utc_now_default(_element: utc_now, _compiler: Any, **_kw: Any) -> str:
    return "CURRENT_TIMESTAMP"


@compiles(utc_now, "postgresql")
def _utc_now_postgresql(_element: utc_now, _compiler: Any, **_kw: Any) -> str:
    return "now()"


@compiles(utc_now, "sqlite")
def _utc_now_sqlite(_element: utc_now, _compiler: Any, **_kw: Any) -> str:
    return "(strftime('%Y-%m-%d %H:%M:%f000', 'now'))"


# JSON text on SQLite; real array / jsonb on PostgreSQL so SQL can index and query them.
Probabilities = sa.JSON().with_variant(postgresql.ARRAY(sa.Float()), "postgresql")
CardJSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# A drawing's strokes as JSON text on both; Python None is SQL NULL (an upload has none).
StrokesJSON = sa.JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class ModelVersion(Base):
    """A trained network the app has served, identified by the SHA-256 of its weights."""

    __tablename__ = "model_versions"
    __table_args__ = (
        sa.CheckConstraint("length(weights_sha256) = 64", name="weights_sha256_length"),
        sa.CheckConstraint("parameter_count >= 0", name="parameter_count_non_negative"),
        sa.CheckConstraint(
            "test_accuracy IS NULL OR (test_accuracy >= 0 AND test_accuracy <= 1)",
            name="test_accuracy_range",
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    architecture: Mapped[str] = mapped_column(sa.String(50))
    weights_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    parameter_count: Mapped[int] = mapped_column(sa.BigInteger)
    test_accuracy: Mapped[float | None] = mapped_column(sa.Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=utc_now())
    card: Mapped[dict[str, Any]] = mapped_column(CardJSON)


class Prediction(Base):
    """One drawing the model answered, and (once a person said so) its true digit."""

    __tablename__ = "predictions"
    __table_args__ = (
        sa.CheckConstraint("predicted_digit BETWEEN 0 AND 9", name="predicted_digit_range"),
        sa.CheckConstraint("true_label BETWEEN 0 AND 9", name="true_label_range"),
        sa.CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        sa.CheckConstraint(f"length(image) = {IMAGE_BYTES}", name="image_size"),
        sa.CheckConstraint("latency_ms IS NULL OR latency_ms >= 0", name="latency_non_negative"),
        sa.CheckConstraint(f"source IN {SOURCES!r}", name="source_known"),
        sa.CheckConstraint(
            "(true_label IS NULL) = (labeled_at IS NULL)", name="labeled_at_with_label"
        ),
        sa.CheckConstraint(
            f"json_array_length(probabilities) = {N_CLASSES}", name="probabilities_length"
        ).ddl_if(dialect="sqlite"),
        sa.CheckConstraint(
            f"array_length(probabilities, 1) = {N_CLASSES} "
            "AND 0 <= ALL(probabilities) AND 1 >= ALL(probabilities)",
            name="probabilities_length",
        ).ddl_if(dialect="postgresql"),
        sa.CheckConstraint(
            "(canvas_width IS NULL) = (canvas_height IS NULL) "
            "AND (canvas_width IS NULL OR (canvas_width > 0 AND canvas_height > 0))",
            name="canvas_size",
        ),
        sa.CheckConstraint(
            "strokes IS NULL OR canvas_width IS NOT NULL", name="strokes_with_canvas"
        ),
        sa.CheckConstraint(
            "strokes IS NULL OR json_type(strokes) = 'array'", name="strokes_array"
        ).ddl_if(dialect="sqlite"),
        sa.CheckConstraint(
            "strokes IS NULL OR json_typeof(strokes) = 'array'", name="strokes_array"
        ).ddl_if(dialect="postgresql"),
        sa.Index(None, "model_version_id", "created_at"),
        # The unlabelled rows alone (their count joins prediction_stats' labelled counts).
        sa.Index(
            "ix_predictions_unlabelled",
            "model_version_id",
            "created_at",
            postgresql_where=sa.text("true_label IS NULL"),
            sqlite_where=sa.text("true_label IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=utc_now(), index=True
    )
    session_id: Mapped[str | None] = mapped_column(sa.String(64))
    model_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT")
    )
    predicted_digit: Mapped[int] = mapped_column(sa.SmallInteger)
    confidence: Mapped[float] = mapped_column(sa.Float)
    probabilities: Mapped[list[float]] = mapped_column(Probabilities)
    unsure: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    true_label: Mapped[int | None] = mapped_column(sa.SmallInteger, index=True)
    labeled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(sa.String(16))
    image: Mapped[bytes] = mapped_column(sa.LargeBinary)
    latency_ms: Mapped[float | None] = mapped_column(sa.Float)
    client_request_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The drawing as the canvas reported it: strokes of [x, y] canvas pixels, y down.
    strokes: Mapped[list[list[list[float]]] | None] = mapped_column(StrokesJSON)
    canvas_width: Mapped[int | None] = mapped_column(sa.Integer)
    canvas_height: Mapped[int | None] = mapped_column(sa.Integer)


class PredictionStats(Base):
    """Labelled predictions counted per UTC day, model version, outcome and confidence bin.

    Written only by triggers on `predictions` (migrations 0003, 0006), never by the app:
    a summary the dashboard sums instead of aggregating every labelled row. One row per
    non-empty cell; `confidence_bin` as `db.migrations.stats_triggers` bins confidences;
    `unsure_n` of its n were answered unsure.
    """

    __tablename__ = "prediction_stats"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    model_version_id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    true_label: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    predicted_digit: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    confidence_bin: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True)
    n: Mapped[int] = mapped_column(sa.Integer)
    confidence_sum: Mapped[float] = mapped_column(sa.Float)
    unsure_n: Mapped[int] = mapped_column(sa.Integer, server_default="0")  # migration 0006


# --- The learning loop (migration 0005) --------------------------------------------

JOB_STATES = ("running", "succeeded", "failed")


class ModelAlias(Base):
    """A name for the model version that plays a part; "champion" is the one served."""

    __tablename__ = "model_aliases"

    alias: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    model_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT")
    )
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=utc_now())


class AliasChange(Base):
    """Audit: each time an alias moved, from which version to which, and why."""

    __tablename__ = "alias_changes"
    __table_args__ = (
        sa.CheckConstraint("NOT forced OR reason IS NOT NULL", name="forced_has_reason"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=utc_now())
    alias: Mapped[str] = mapped_column(sa.String(50), index=True)
    from_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT")
    )
    to_version_id: Mapped[int] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT")
    )
    evidence: Mapped[dict[str, Any] | None] = mapped_column(CardJSON)
    forced: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    reason: Mapped[str | None] = mapped_column(sa.Text)


class FinetuneJob(Base):
    """One fine-tune run; at most one is "running" at a time, across every replica."""

    __tablename__ = "finetune_jobs"
    __table_args__ = (
        sa.CheckConstraint(f"state IN {JOB_STATES!r}", name="state_known"),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="progress_range"),
        sa.Index(
            "uq_finetune_jobs_running",
            "state",
            unique=True,
            postgresql_where=sa.text("state = 'running'"),
            sqlite_where=sa.text("state = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    state: Mapped[str] = mapped_column(sa.String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    progress: Mapped[float] = mapped_column(sa.Float, server_default="0")
    message: Mapped[str | None] = mapped_column(sa.Text)
    host: Mapped[str] = mapped_column(sa.String(255))
    pid: Mapped[int | None] = mapped_column(sa.Integer)
    log_path: Mapped[str | None] = mapped_column(sa.String(1000))
    base_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT")
    )
    challenger_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("model_versions.id", ondelete="RESTRICT"), index=True
    )
    report: Mapped[dict[str, Any] | None] = mapped_column(CardJSON)
