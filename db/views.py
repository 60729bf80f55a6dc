"""The analytics views as Python sees them: names, columns and types.

The views themselves are created by migration 0002 (their SQL lives there, frozen
with the revision). Here they are lightweight `sa.table()` constructs, deliberately
outside `db.schema`'s metadata so autogenerate never mistakes them for tables, and
typed so results come back as Python values (aware datetimes, bools) on both
databases. A test checks these columns against the real views.
"""

from __future__ import annotations

import sqlalchemy as sa

from db.schema import Probabilities, UTCDateTime

labeled_predictions = sa.table(
    "labeled_predictions",
    sa.column("id", sa.Integer),
    sa.column("created_at", UTCDateTime()),
    sa.column("labeled_at", UTCDateTime()),
    sa.column("session_id", sa.String),
    sa.column("model_version_id", sa.Integer),
    sa.column("model_name", sa.String),
    sa.column("architecture", sa.String),
    sa.column("source", sa.String),
    sa.column("predicted_digit", sa.Integer),
    sa.column("true_label", sa.Integer),
    sa.column("is_correct", sa.Boolean),
    sa.column("confidence", sa.Float),
    sa.column("probabilities", Probabilities),
    sa.column("unsure", sa.Boolean),
    sa.column("latency_ms", sa.Float),
)

accuracy_by_digit = sa.table(
    "accuracy_by_digit",
    sa.column("true_label", sa.Integer),
    sa.column("n", sa.Integer),
    sa.column("correct", sa.Integer),
    sa.column("accuracy", sa.Float),
)

confusion_matrix = sa.table(
    "confusion_matrix",
    sa.column("true_label", sa.Integer),
    sa.column("predicted_digit", sa.Integer),
    sa.column("n", sa.Integer),
)

accuracy_by_model = sa.table(
    "accuracy_by_model",
    sa.column("model_version_id", sa.Integer),
    sa.column("model_name", sa.String),
    sa.column("architecture", sa.String),
    sa.column("test_accuracy", sa.Float),
    sa.column("n_predictions", sa.Integer),
    sa.column("n", sa.Integer),
    sa.column("correct", sa.Integer),
    sa.column("accuracy", sa.Float),
    sa.column("mean_confidence", sa.Float),
)

accuracy_by_day = sa.table(
    "accuracy_by_day",
    sa.column("day", sa.Date),
    sa.column("model_version_id", sa.Integer),
    sa.column("model_name", sa.String),
    sa.column("n", sa.Integer),
    sa.column("correct", sa.Integer),
    sa.column("accuracy", sa.Float),
)

calibration_bins = sa.table(
    "calibration_bins",
    sa.column("bin", sa.Integer),
    sa.column("bin_lower", sa.Float),
    sa.column("bin_upper", sa.Float),
    sa.column("n", sa.Integer),
    sa.column("correct", sa.Integer),
    sa.column("mean_confidence", sa.Float),
    sa.column("accuracy", sa.Float),
)

VIEWS: dict[str, sa.TableClause] = {
    view.name: view
    for view in (
        labeled_predictions,
        accuracy_by_digit,
        confusion_matrix,
        accuracy_by_model,
        accuracy_by_day,
        calibration_bins,
    )
}
VIEW_NAMES: tuple[str, ...] = tuple(VIEWS)
