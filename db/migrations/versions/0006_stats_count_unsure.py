"""prediction_stats counts the answers given as unsure: `unsure_n` in every cell.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Why: "unsure" is worth showing only if people can see how it does on real drawings:
how often it fires on answers that were right (noise users learn to ignore) and how
many of the wrong answers it caught. Those are sums over the same cells as the other
statistics, so the summary counts them too; the dashboard then reads them without
touching the rows, at any table size.

The cells are refilled from the rows, and the triggers replaced by ones that also
keep `unsure_n` (and fire when a row's `unsure` changes). Downgrade restores 0003's.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from db.migrations.stats_triggers import create_triggers, drop_triggers, fill_from_rows

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    for statement in drop_triggers(dialect):
        op.execute(statement)
    op.add_column(
        "prediction_stats",
        sa.Column("unsure_n", sa.Integer(), server_default="0", nullable=False),
    )
    op.execute("DELETE FROM prediction_stats")
    op.execute(fill_from_rows(dialect, counts_unsure=True))
    for statement in create_triggers(dialect, counts_unsure=True):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for statement in drop_triggers(dialect):
        op.execute(statement)
    with op.batch_alter_table("prediction_stats") as batch:
        batch.drop_column("unsure_n")
    for statement in create_triggers(dialect, counts_unsure=False):
        op.execute(statement)
