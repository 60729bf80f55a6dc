"""The SQL analytics views: the public contract for analysts and the dashboard.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Names and columns are public API (docs/analytics.md). The SQL is written once for
both databases; only "the day of a timestamp, in UTC" needs a variant per dialect.
Correctness is defined once, in `labeled_predictions.is_correct`; every other view
counts from it. Accuracies are plain fractions in [0, 1] (NULL where nothing is
labelled), computed as correct / n so that both databases give a float.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CORRECT = "SUM(CASE WHEN is_correct THEN 1 ELSE 0 END)"

LABELED_PREDICTIONS = """
SELECT p.id, p.created_at, p.labeled_at, p.session_id, p.model_version_id,
       m.name AS model_name, m.architecture, p.source,
       p.predicted_digit, p.true_label, (p.predicted_digit = p.true_label) AS is_correct,
       p.confidence, p.probabilities, p.unsure, p.latency_ms
FROM predictions AS p
JOIN model_versions AS m ON m.id = p.model_version_id
WHERE p.true_label IS NOT NULL
"""

ACCURACY_BY_DIGIT = f"""
SELECT true_label, COUNT(*) AS n, {CORRECT} AS correct,
       CAST({CORRECT} AS DOUBLE PRECISION) / COUNT(*) AS accuracy
FROM labeled_predictions
GROUP BY true_label
"""

CONFUSION_MATRIX = """
SELECT true_label, predicted_digit, COUNT(*) AS n
FROM labeled_predictions
GROUP BY true_label, predicted_digit
"""

# Every model appears, labelled or not: n = 0 and accuracy NULL say "no labels yet".
# test_accuracy (on MNIST's test set) sits beside accuracy on real drawings.
ACCURACY_BY_MODEL = """
SELECT m.id AS model_version_id, m.name AS model_name, m.architecture, m.test_accuracy,
       (SELECT COUNT(*) FROM predictions AS p WHERE p.model_version_id = m.id)
           AS n_predictions,
       COUNT(lp.id) AS n,
       COALESCE(SUM(CASE WHEN lp.is_correct THEN 1 ELSE 0 END), 0) AS correct,
       CAST(SUM(CASE WHEN lp.is_correct THEN 1 ELSE 0 END) AS DOUBLE PRECISION)
           / NULLIF(COUNT(lp.id), 0) AS accuracy,
       AVG(lp.confidence) AS mean_confidence
FROM model_versions AS m
LEFT JOIN labeled_predictions AS lp ON lp.model_version_id = m.id
GROUP BY m.id, m.name, m.architecture, m.test_accuracy
"""

# The day a drawing was made, in UTC, whatever the session's time zone.
UTC_DAY = {
    "postgresql": "CAST(timezone('UTC', created_at) AS DATE)",
    "sqlite": "date(created_at)",
}

ACCURACY_BY_DAY = f"""
SELECT {{day}} AS day, model_version_id, model_name, COUNT(*) AS n, {CORRECT} AS correct,
       CAST({CORRECT} AS DOUBLE PRECISION) / COUNT(*) AS accuracy
FROM labeled_predictions
GROUP BY {{day}}, model_version_id, model_name
"""

# Bin b holds confidences in [b/10, (b+1)/10); the last bin also holds 1.0.
CONFIDENCE_BIN = (
    "CASE "
    + " ".join(f"WHEN confidence >= 0.{b} THEN {b}" for b in range(9, 0, -1))
    + " ELSE 0 END"
)

CALIBRATION_BINS = f"""
SELECT bin, CAST(bin AS DOUBLE PRECISION) / 10 AS bin_lower,
       CAST(bin + 1 AS DOUBLE PRECISION) / 10 AS bin_upper,
       COUNT(*) AS n, {CORRECT} AS correct, AVG(confidence) AS mean_confidence,
       CAST({CORRECT} AS DOUBLE PRECISION) / COUNT(*) AS accuracy
FROM (SELECT {CONFIDENCE_BIN} AS bin, confidence, is_correct FROM labeled_predictions) AS binned
GROUP BY bin
"""

# In creation order; dropped in reverse (the later ones read labeled_predictions).
VIEWS = (
    ("labeled_predictions", LABELED_PREDICTIONS),
    ("accuracy_by_digit", ACCURACY_BY_DIGIT),
    ("confusion_matrix", CONFUSION_MATRIX),
    ("accuracy_by_model", ACCURACY_BY_MODEL),
    ("accuracy_by_day", ACCURACY_BY_DAY),
    ("calibration_bins", CALIBRATION_BINS),
)


def upgrade() -> None:
    day = UTC_DAY[op.get_context().dialect.name]
    for name, sql in VIEWS:
        op.execute(f"CREATE VIEW {name} AS {sql.replace('{day}', day)}")


def downgrade() -> None:
    for name, _sql in reversed(VIEWS):
        op.execute(f"DROP VIEW {name}")
