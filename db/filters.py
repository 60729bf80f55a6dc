"""Which stored predictions a read counts: one value, checked when it is made.

The Statistics and History pages build one from their filter widgets and pass it to
every read (`db.analytics`, `db.repository.list_predictions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from db import validation as check


@dataclass(frozen=True)
class Filters:
    """`model_version_id` None: every version. `since` (inclusive) and `until`
    (exclusive) on the drawing's `created_at`, in UTC; a date means its midnight.
    `from_summary` False makes the statistics aggregate the rows, as before
    migration 0003 (tests and the benchmark compare the two); other reads ignore it.
    """

    model_version_id: int | None = None
    since: date | datetime | None = None
    until: date | datetime | None = None
    from_summary: bool = True

    def __post_init__(self) -> None:
        start, end = check.time_range(self.since, self.until)
        object.__setattr__(self, "since", start)
        object.__setattr__(self, "until", end)
        if self.model_version_id is not None:
            version = check.whole_number(self.model_version_id, "model_version_id")
            object.__setattr__(self, "model_version_id", version)
        object.__setattr__(self, "from_summary", bool(self.from_summary))

    def on(self, table: Any) -> list[Any]:
        """The filters as conditions on `table` (labeled_predictions or predictions)."""
        conditions: list[Any] = []
        if self.model_version_id is not None:
            conditions.append(table.c.model_version_id == self.model_version_id)
        if self.since is not None:
            conditions.append(table.c.created_at >= self.since)
        if self.until is not None:
            conditions.append(table.c.created_at < self.until)
        return conditions

    def whole_days(self) -> bool:
        """Whether since and until (where given) are midnights UTC: prediction_stats can answer."""
        return all(
            moment is None or moment == datetime.combine(moment.date(), time(0), tzinfo=UTC)
            for moment in (self.since, self.until)
        )


ALL = Filters()
