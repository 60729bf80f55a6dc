"""prediction_stats: labelled predictions counted per UTC day, kept up to date by triggers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Why: at 1,000,000 predictions every Statistics chart aggregated about 700,000
labelled rows on each page view (0.2-2.4 s each on 2 cores; a covering index alone
still left the unfiltered charts at 160-900 ms). The dashboard filters by model
version and whole UTC days, so the counts it needs can be kept per (day, model
version, true label, predicted digit, confidence bin): n and the sum of confidences.
Every chart then sums at most a few hundred thousand small rows (a year of days x
models x confusion cells x bins in the worst case; far fewer in practice).

Kept by triggers, on both databases, so that nothing that writes `predictions` can
forget it: inserting a labelled row adds it; changing its label (a correction),
clearing the label, moving its time or deleting it takes the old cell's share back
and adds the new one. Unlabelled inserts fire nothing (WHEN clause), so the hot
write path is untouched. A cell that drops to n = 0 is deleted. On PostgreSQL the
trigger function is SECURITY DEFINER: the app role reads the table but cannot write it.

Also a partial index on the unlabelled rows: "predictions" in the headline counts is
labelled (from the summary) plus unlabelled (from this small index).

Confidence bins: 20 bins [b/20, (b+1)/20), 1.0 in the last, by comparisons with the
bin edges (the calibration_bins view's form); calibration's ten bins are bin // 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BINS = 20
KEY = ("day", "model_version_id", "true_label", "predicted_digit", "confidence_bin")
UPDATED_COLUMNS = "true_label, predicted_digit, confidence, created_at, model_version_id"
# (name, event, condition): only rows that are or were labelled touch the summary.
TRIGGERS = (
    ("insert", "INSERT", "NEW.true_label IS NOT NULL"),
    (
        "update",
        f"UPDATE OF {UPDATED_COLUMNS}",
        "OLD.true_label IS NOT NULL OR NEW.true_label IS NOT NULL",
    ),
    ("delete", "DELETE", "OLD.true_label IS NOT NULL"),
)


def _bin(row: str) -> str:
    """The confidence bin of `row`'s (NEW or OLD) confidence, as SQL."""
    edges = " ".join(
        f"WHEN {row}.confidence >= {b / BINS!r} THEN {b}" for b in range(BINS - 1, 0, -1)
    )
    return f"CASE {edges} ELSE 0 END"


def _day(row: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"CAST(timezone('UTC', {row}.created_at) AS DATE)"
    return f"date({row}.created_at)"


def _cell(row: str, dialect: str) -> list[str]:
    """The values of KEY for `row`."""
    return [
        _day(row, dialect),
        f"{row}.model_version_id",
        f"{row}.true_label",
        f"{row}.predicted_digit",
        _bin(row),
    ]


def _matches(row: str, dialect: str) -> str:
    return " AND ".join(
        f"{column} = {value}" for column, value in zip(KEY, _cell(row, dialect), strict=True)
    )


def _add(row: str, dialect: str, where: str = "") -> str:
    values = ", ".join([*_cell(row, dialect), "1", f"{row}.confidence"])
    source = f"SELECT {values} WHERE {where}" if where else f"VALUES ({values})"
    return (
        f"INSERT INTO prediction_stats ({', '.join(KEY)}, n, confidence_sum) {source} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET n = prediction_stats.n + 1, "
        "confidence_sum = prediction_stats.confidence_sum + excluded.confidence_sum"
    )


def _take_back(row: str, dialect: str, where: str = "TRUE") -> list[str]:
    cell = _matches(row, dialect)
    return [
        f"UPDATE prediction_stats SET n = n - 1, confidence_sum = confidence_sum - "
        f"{row}.confidence WHERE {where} AND {cell}",
        f"DELETE FROM prediction_stats WHERE {where} AND n <= 0 AND {cell}",
    ]


def _postgresql_triggers() -> list[str]:
    take_back = ";\n    ".join(_take_back("OLD", "postgresql"))
    function = f"""
CREATE FUNCTION prediction_stats_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.true_label IS NOT NULL THEN
    {take_back};
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.true_label IS NOT NULL THEN
    {_add("NEW", "postgresql")};
  END IF;
  RETURN NULL;
END
$$"""
    return [function] + [
        f"CREATE TRIGGER prediction_stats_{name} AFTER {event} ON predictions FOR EACH ROW "
        f"WHEN ({condition}) EXECUTE FUNCTION prediction_stats_apply()"
        for name, event, condition in TRIGGERS
    ]


def _sqlite_triggers() -> list[str]:
    def body(statements: list[str]) -> str:
        return "BEGIN\n  " + ";\n  ".join(statements) + ";\nEND"

    bodies = {
        "insert": [_add("NEW", "sqlite")],
        "update": [
            *_take_back("OLD", "sqlite", "OLD.true_label IS NOT NULL"),
            _add("NEW", "sqlite", "NEW.true_label IS NOT NULL"),
        ],
        "delete": _take_back("OLD", "sqlite"),
    }
    return [
        f"CREATE TRIGGER prediction_stats_{name} AFTER {event} ON predictions FOR EACH ROW "
        f"WHEN {condition} {body(bodies[name])}"
        for name, event, condition in TRIGGERS
    ]


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    op.create_table(
        "prediction_stats",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("true_label", sa.SmallInteger(), nullable=False),
        sa.Column("predicted_digit", sa.SmallInteger(), nullable=False),
        sa.Column("confidence_bin", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("confidence_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*KEY, name=op.f("pk_prediction_stats")),
    )
    op.create_index(
        op.f("ix_predictions_unlabelled"),
        "predictions",
        ["model_version_id", "created_at"],
        postgresql_where=sa.text("true_label IS NULL"),
        sqlite_where=sa.text("true_label IS NULL"),
    )
    cell = _cell("p", dialect)
    op.execute(
        f"INSERT INTO prediction_stats ({', '.join(KEY)}, n, confidence_sum) "
        f"SELECT {', '.join(cell)}, COUNT(*), SUM(p.confidence) FROM predictions AS p "
        f"WHERE p.true_label IS NOT NULL GROUP BY {', '.join(cell)}"
    )
    triggers = _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers()
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    for name, _event, _condition in TRIGGERS:
        op.execute(
            f"DROP TRIGGER prediction_stats_{name}" + (" ON predictions" if postgresql else "")
        )
    if postgresql:
        op.execute("DROP FUNCTION prediction_stats_apply()")
    op.drop_index(op.f("ix_predictions_unlabelled"), table_name="predictions")
    op.drop_table("prediction_stats")
