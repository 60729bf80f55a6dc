"""The two tables: model_versions and predictions.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

A frozen copy of `db/schema.py` as it was at this revision (migrations never import
the live models, or old revisions would change when the models do). Where the
databases differ it says so: the default timestamp, the probabilities type and its
CHECK constraint.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    """The database clock; on SQLite as text with six fractional digits (see db.schema)."""
    if op.get_context().dialect.name == "sqlite":
        return sa.text("(strftime('%Y-%m-%d %H:%M:%f000', 'now'))")
    return sa.text("now()")


def _probabilities_check() -> sa.CheckConstraint:
    if op.get_context().dialect.name == "postgresql":
        sql = (
            "array_length(probabilities, 1) = 10 "
            "AND 0 <= ALL(probabilities) AND 1 >= ALL(probabilities)"
        )
    else:
        sql = "json_array_length(probabilities) = 10"
    return sa.CheckConstraint(sql, name=op.f("ck_predictions_probabilities_length"))


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("architecture", sa.String(length=50), nullable=False),
        sa.Column("weights_sha256", sa.String(length=64), nullable=False),
        sa.Column("parameter_count", sa.BigInteger(), nullable=False),
        sa.Column("test_accuracy", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column(
            "card",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "length(weights_sha256) = 64", name=op.f("ck_model_versions_weights_sha256_length")
        ),
        sa.CheckConstraint(
            "parameter_count >= 0", name=op.f("ck_model_versions_parameter_count_non_negative")
        ),
        sa.CheckConstraint(
            "test_accuracy IS NULL OR (test_accuracy >= 0 AND test_accuracy <= 1)",
            name=op.f("ck_model_versions_test_accuracy_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("weights_sha256", name=op.f("uq_model_versions_weights_sha256")),
    )
    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("predicted_digit", sa.SmallInteger(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column(
            "probabilities",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Float()), "postgresql"),
            nullable=False,
        ),
        sa.Column("unsure", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("true_label", sa.SmallInteger(), nullable=True),
        sa.Column("labeled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("client_request_id", sa.String(length=64), nullable=False),
        sa.CheckConstraint(
            "predicted_digit BETWEEN 0 AND 9", name=op.f("ck_predictions_predicted_digit_range")
        ),
        sa.CheckConstraint(
            "true_label BETWEEN 0 AND 9", name=op.f("ck_predictions_true_label_range")
        ),
        sa.CheckConstraint(
            "confidence >= 0 AND confidence <= 1", name=op.f("ck_predictions_confidence_range")
        ),
        sa.CheckConstraint("length(image) = 784", name=op.f("ck_predictions_image_size")),
        sa.CheckConstraint(
            "latency_ms IS NULL OR latency_ms >= 0",
            name=op.f("ck_predictions_latency_non_negative"),
        ),
        sa.CheckConstraint(
            "source IN ('canvas', 'upload')", name=op.f("ck_predictions_source_known")
        ),
        sa.CheckConstraint(
            "(true_label IS NULL) = (labeled_at IS NULL)",
            name=op.f("ck_predictions_labeled_at_with_label"),
        ),
        _probabilities_check(),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_versions.id"],
            name=op.f("fk_predictions_model_version_id_model_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
        sa.UniqueConstraint("client_request_id", name=op.f("uq_predictions_client_request_id")),
    )
    op.create_index(op.f("ix_predictions_created_at"), "predictions", ["created_at"])
    op.create_index(
        op.f("ix_predictions_model_version_id_created_at"),
        "predictions",
        ["model_version_id", "created_at"],
    )
    op.create_index(op.f("ix_predictions_true_label"), "predictions", ["true_label"])


def downgrade() -> None:
    op.drop_index(op.f("ix_predictions_true_label"), table_name="predictions")
    op.drop_index(op.f("ix_predictions_model_version_id_created_at"), table_name="predictions")
    op.drop_index(op.f("ix_predictions_created_at"), table_name="predictions")
    op.drop_table("predictions")
    op.drop_table("model_versions")
