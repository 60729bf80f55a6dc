"""predictions.strokes, canvas_width, canvas_height: the drawing itself, beside its 28x28.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

Why: the 28x28 image is one preprocessing of a drawing; the strokes (a list of
strokes, each a list of [x, y] canvas pixels, y down) and the canvas size let old
drawings be preprocessed again or re-rendered for training. Uploads have none, and
every row stored before this revision keeps NULL in the three columns.

Added in place (ALTER TABLE ... ADD COLUMN) on both databases: SQLite's batch mode
would rebuild the table and drop 0003's triggers. SQLite takes CHECK constraints
only as column constraints in ADD COLUMN, so there they hang on the column added
last (canvas_height) and go with it on downgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANVAS_SIZE = (
    "canvas_size",
    "(canvas_width IS NULL) = (canvas_height IS NULL) "
    "AND (canvas_width IS NULL OR (canvas_width > 0 AND canvas_height > 0))",
)
STROKES_WITH_CANVAS = ("strokes_with_canvas", "strokes IS NULL OR canvas_width IS NOT NULL")
JSON_TYPE = {"postgresql": "json_typeof", "sqlite": "json_type"}


def _strokes_array(dialect: str) -> tuple[str, str]:
    return ("strokes_array", f"strokes IS NULL OR {JSON_TYPE[dialect]}(strokes) = 'array'")


def _upgrade_sqlite() -> None:
    def checks(*constraints: tuple[str, str]) -> str:
        return " ".join(f"CONSTRAINT ck_predictions_{n} CHECK ({sql})" for n, sql in constraints)

    op.execute(
        f"ALTER TABLE predictions ADD COLUMN strokes JSON {checks(_strokes_array('sqlite'))}"
    )
    op.execute("ALTER TABLE predictions ADD COLUMN canvas_width INTEGER")
    op.execute(
        "ALTER TABLE predictions ADD COLUMN canvas_height INTEGER "
        + checks(CANVAS_SIZE, STROKES_WITH_CANVAS)
    )


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        _upgrade_sqlite()
        return
    op.add_column("predictions", sa.Column("strokes", sa.JSON(none_as_null=True)))
    op.add_column("predictions", sa.Column("canvas_width", sa.Integer()))
    op.add_column("predictions", sa.Column("canvas_height", sa.Integer()))
    for name, condition in (_strokes_array(dialect), CANVAS_SIZE, STROKES_WITH_CANVAS):
        op.create_check_constraint(op.f(f"ck_predictions_{name}"), "predictions", condition)


def downgrade() -> None:
    # PostgreSQL drops a column's constraints with it; SQLite drops the column
    # constraints declared on it (so canvas_height, which holds the shared ones, first).
    for column in ("canvas_height", "canvas_width", "strokes"):
        op.execute(f"ALTER TABLE predictions DROP COLUMN {column}")
