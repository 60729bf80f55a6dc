"""model_aliases, alias_changes, finetune_jobs: which model serves, why, and who is training.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26

Why: which model the app serves becomes a fact in the database (the "champion"
alias), so that every replica follows a promotion without a restart, and each move
leaves an audit row (when, from which version to which, the evidence, forced or
not and why). `finetune_jobs` records each fine-tune (state, progress, log, the
challenger it registered and its report); a partial unique index lets at most one
row be "running", so two replicas cannot start two fine-tunes at once.

A frozen copy of `db/schema.py`'s three classes at this revision. New tables only:
nothing existing changes, so today's rows are untouched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNNING = sa.text("state = 'running'")


def _now() -> sa.TextClause:
    """The database clock; on SQLite as text with six fractional digits (see db.schema)."""
    if op.get_context().dialect.name == "sqlite":
        return sa.text("(strftime('%Y-%m-%d %H:%M:%f000', 'now'))")
    return sa.text("now()")


def _json() -> sa.types.TypeEngine:
    return postgresql.JSONB() if op.get_context().dialect.name == "postgresql" else sa.JSON()


def _version(column: str, table: str, nullable: bool) -> list[sa.SchemaItem]:
    return [
        sa.Column(column, sa.Integer(), nullable=nullable),
        sa.ForeignKeyConstraint(
            [column],
            ["model_versions.id"],
            name=op.f(f"fk_{table}_{column}_model_versions"),
            ondelete="RESTRICT",
        ),
    ]


def _create_aliases() -> None:
    op.create_table(
        "model_aliases",
        sa.Column("alias", sa.String(length=50), nullable=False),
        *_version("model_version_id", "model_aliases", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "alias_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("alias", sa.String(length=50), nullable=False),
        *_version("from_version_id", "alias_changes", nullable=True),
        *_version("to_version_id", "alias_changes", nullable=False),
        sa.Column("evidence", _json(), nullable=True),
        sa.Column("forced", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "NOT forced OR reason IS NOT NULL", name=op.f("ck_alias_changes_forced_has_reason")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_changes")),
    )
    op.create_index(op.f("ix_alias_changes_alias"), "alias_changes", ["alias"])


def _create_jobs() -> None:
    op.create_table(
        "finetune_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.Float(), server_default="0", nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("log_path", sa.String(length=1000), nullable=True),
        *_version("base_version_id", "finetune_jobs", nullable=True),
        *_version("challenger_version_id", "finetune_jobs", nullable=True),
        sa.Column("report", _json(), nullable=True),
        sa.CheckConstraint(
            "state IN ('running', 'succeeded', 'failed')", name=op.f("ck_finetune_jobs_state_known")
        ),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 1", name=op.f("ck_finetune_jobs_progress_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finetune_jobs")),
    )
    op.create_index(
        op.f("ix_finetune_jobs_challenger_version_id"), "finetune_jobs", ["challenger_version_id"]
    )
    op.create_index(
        "uq_finetune_jobs_running",
        "finetune_jobs",
        ["state"],
        unique=True,
        postgresql_where=RUNNING,
        sqlite_where=RUNNING,
    )


def upgrade() -> None:
    _create_aliases()
    _create_jobs()


def downgrade() -> None:
    op.drop_table("finetune_jobs")
    op.drop_table("alias_changes")
    op.drop_table("model_aliases")
