"""prediction_stats: labelled predictions counted per UTC day, kept up to date by triggers.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Why: at 1,000,000 predictions every Statistics chart aggregated about 700,000
labelled rows on each page view, too slow even with a covering index (README's
database benchmark has today's figures). The dashboard filters by model
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

Confidence bins: 20 bins [b/20, (b+1)/20), 1.0 in the last (`db.migrations.stats_triggers`,
which spells the triggers of this revision and of 0006); calibration's ten bins are
bin // 2.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.migrations.stats_triggers import KEY, create_triggers, drop_triggers, fill_from_rows

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    op.execute(fill_from_rows(dialect, counts_unsure=False))
    for statement in create_triggers(dialect, counts_unsure=False):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_triggers(op.get_context().dialect.name):
        op.execute(statement)
    op.drop_index(op.f("ix_predictions_unlabelled"), table_name="predictions")
    op.drop_table("prediction_stats")
