"""A small hand-checked data set for the database tests (valid values: testing_support)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# The seeded data set. Each row: (model, predicted, true label or None, confidence,
# created_at). Its statistics are worked out by hand in test_views.py.
D1 = datetime(2026, 3, 9, tzinfo=UTC)
D2 = datetime(2026, 3, 10, tzinfo=UTC)
NOW = D2 + timedelta(hours=12)
PLUS_ONE = timezone(timedelta(hours=1))
SEED_ROWS: list[tuple[str, int, int | None, float, datetime]] = [
    ("A", 3, 3, 0.95, D1 + timedelta(hours=10)),  # 1 correct, bin 9
    ("A", 3, 5, 0.91, D1 + timedelta(hours=11)),  # 2 wrong,   bin 9
    ("A", 7, 7, 0.85, datetime(2026, 3, 10, 0, 30, tzinfo=PLUS_ONE)),  # 3: D1 23:30 UTC
    ("A", 1, 7, 0.50, D2 + timedelta(hours=1)),  # 4 wrong,   bin 5 (lower edge)
    ("A", 1, 1, 0.99, D2 + timedelta(hours=2)),  # 5 correct, bin 9
    ("B", 5, 5, 0.65, D2 + timedelta(hours=3)),  # 6 correct, bin 6
    ("B", 5, 3, 0.60, D2 + timedelta(hours=4)),  # 7 wrong,   bin 6 (lower edge)
    ("B", 0, 0, 1.00, D2 + timedelta(hours=5)),  # 8 correct, bin 9 (1.0 belongs to it)
    ("A", 2, None, 0.70, D2 + timedelta(hours=6)),  # 9 unlabelled
    ("B", 4, None, 0.30, D1 + timedelta(hours=7)),  # 10 unlabelled
    ("A", 3, 5, 0.80, D2 + timedelta(hours=7)),  # 11 wrong,  bin 8
]

# prediction_stats' columns before migration 0006 added unsure_n.
STATS_AT_0003 = (
    "day, model_version_id, true_label, predicted_digit, confidence_bin, n, confidence_sum"
)


def comparable(row: Any) -> tuple[Any, ...]:
    """A row as a tuple, floats to 12 significant digits: migration 0006 re-adds each
    cell's confidences in another order, which may move the sum's last bit."""
    return tuple(float(f"{v:.12g}") if isinstance(v, float) else v for v in row)
