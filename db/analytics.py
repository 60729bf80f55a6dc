"""The dashboard's statistics: from the `prediction_stats` summary, or the SQL views.

Why aggregate here rather than `SELECT * FROM accuracy_by_digit`: the dashboard
filters by model version and date range, which the pre-aggregated views cannot do.

Where the numbers come from: every statistic is a sum over "cells" of labelled
predictions (n, correct, sum of confidences, how many were answered unsure, grouped
by some of: UTC day, model version, true label, predicted digit, confidence bin).
When `since` and `until` are whole UTC days -- always, from the dashboard, whose
filter is a date range -- the cells are read from `prediction_stats`, the summary
that triggers keep (migrations 0003, 0006), instead of every labelled row. Otherwise
(a time of day, or the "last 24 hours" KPI), or with `from_summary=False`, they are
aggregated from `labeled_predictions` (the view that defines `is_correct`) with the
filters applied first. Both give the same numbers -- a test holds them to it, and to the aggregate
views, so the dashboard and an analyst's psql session never disagree.

Every statistic takes one `Filters` (default: everything), checked when it is made.
Every result has a fixed shape (ten digits, ten or twenty bins, a 10x10 matrix) so
charts need no special case for "no data yet": counts are 0 and accuracies NaN there.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import validation as check
from db.filters import ALL, Filters
from db.migrations.stats_triggers import BINS as SUMMARY_BINS
from db.schema import N_CLASSES, ModelVersion, Prediction, PredictionStats
from db.views import VIEW_NAMES, VIEWS, labeled_predictions

lp = labeled_predictions
stats = PredictionStats.__table__.c
DIGITS = range(N_CLASSES)
N_BINS = 10  # calibration bins
HISTOGRAM_BINS = SUMMARY_BINS  # confidence histogram bins: prediction_stats.confidence_bin
_CORRECT = sa.func.sum(sa.case((lp.c.is_correct, 1), else_=0))
CELL_KEYS = ("day", "model_version_id", "true_label", "predicted_digit", "confidence_bin")


@dataclass(frozen=True)
class Kpis:
    """The headline numbers. Accuracies are None while nothing is labelled."""

    predictions: int
    labelled: int
    correct: int
    accuracy: float | None
    labelled_last_24h: int
    accuracy_last_24h: float | None


def kpis(session: Session, filters: Filters = ALL, *, now: datetime | None = None) -> Kpis:
    """Predictions, labelled, accuracy on labelled, and accuracy of the last 24 hours.

    "Last 24 hours" is [now - 24 h, now), intersected with the filters; `now`
    defaults to the current time (tests pass it).
    """
    labelled, correct = _labelled_and_correct(session, filters)
    predictions = labelled + _unlabelled(session, filters)
    moment = check.moment(now, "now") or datetime.now(UTC)
    start = max(moment - timedelta(hours=24), filters.since or moment - timedelta(hours=24))
    end = min(moment, filters.until or moment)
    labelled_24h, correct_24h = 0, 0
    if start < end:
        recent = dataclasses.replace(filters, since=start, until=end)
        labelled_24h, correct_24h = _labelled_and_correct(session, recent)
    return Kpis(
        predictions=predictions,
        labelled=labelled,
        correct=correct,
        accuracy=_share(correct, labelled),
        labelled_last_24h=labelled_24h,
        accuracy_last_24h=_share(correct_24h, labelled_24h),
    )


@dataclass(frozen=True)
class UnsureReport:
    """How the app's "unsure" did on labelled drawings: the counts, and the shares a
    reader wants (None while there is nothing to divide by)."""

    labelled: int
    correct: int
    unsure: int  # labelled answers given as unsure
    unsure_when_right: int  # right answers flagged all the same

    @property
    def flagged(self) -> float | None:
        """Share of the labelled answers given as unsure."""
        return _share(self.unsure, self.labelled)

    @property
    def flagged_when_right(self) -> float | None:
        """Share of the right answers flagged: noise, which teaches users to ignore it."""
        return _share(self.unsure_when_right, self.correct)

    @property
    def wrong(self) -> int:
        return self.labelled - self.correct

    @property
    def unsure_when_wrong(self) -> int:
        return self.unsure - self.unsure_when_right

    @property
    def errors_caught(self) -> float | None:
        """Share of the wrong answers that came flagged unsure."""
        return _share(self.unsure_when_wrong, self.wrong)

    @property
    def accuracy_when_sure(self) -> float | None:
        return _share(self.correct - self.unsure_when_right, self.labelled - self.unsure)


def unsure_report(session: Session, filters: Filters = ALL) -> UnsureReport:
    """How often labelled answers came flagged unsure, on right and on wrong answers."""
    cells = _cells(session, filters, ["true_label", "predicted_digit"])
    right = cells["true_label"] == cells["predicted_digit"]
    return UnsureReport(
        labelled=int(cells["n"].sum()),
        correct=int(cells.loc[right, "n"].sum()),
        unsure=int(cells["unsure"].sum()),
        unsure_when_right=int(cells.loc[right, "unsure"].sum()),
    )


def accuracy_by_digit(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """One row per true digit 0..9: n, correct, accuracy (NaN where n = 0)."""
    frame = _cells(session, filters, ["true_label"])[["true_label", "n", "correct"]]
    frame = frame.set_index("true_label").reindex(DIGITS, fill_value=0)
    return _with_accuracy(frame.rename_axis("true_label").reset_index())


def confusion_matrix(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """Counts as a 10x10 table: rows are true labels, columns predicted digits."""
    counts = _cells(session, filters, ["true_label", "predicted_digit"])
    matrix = counts.pivot_table(
        index="true_label", columns="predicted_digit", values="n", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(index=DIGITS, columns=DIGITS, fill_value=0).astype(int)
    return matrix.rename_axis(index="true_label", columns="predicted_digit")


def confidence_by_outcome(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """How many right and wrong answers fall in each confidence bin (for a histogram).

    `HISTOGRAM_BINS` bins (`_confidence_bin`): columns bin, bin_lower, bin_upper,
    correct, wrong. Binned and counted in SQL, so the result has that many rows
    however many predictions are labelled.
    """
    frame = _cells(session, filters, ["confidence_bin"]).rename(columns={"confidence_bin": "bin"})
    frame = frame.set_index("bin").reindex(range(HISTOGRAM_BINS), fill_value=0)
    frame = frame.rename_axis("bin").reset_index()
    frame.insert(1, "bin_lower", frame["bin"] / HISTOGRAM_BINS)
    frame.insert(2, "bin_upper", (frame["bin"] + 1) / HISTOGRAM_BINS)
    frame["wrong"] = frame["n"] - frame["correct"]
    return frame[["bin", "bin_lower", "bin_upper", "correct", "wrong"]].astype(
        {"bin": int, "correct": int, "wrong": int}
    )


def calibration_bins(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """Ten confidence bins [b/10, (b+1)/10): n, correct, mean confidence, accuracy.

    A calibrated model has accuracy close to mean confidence in every bin. Each is
    two of the twenty histogram bins (the same edges: b/10 is 2b/20).
    """
    cells = _cells(session, filters, ["confidence_bin"])
    cells["bin"] = cells["confidence_bin"] // (HISTOGRAM_BINS // N_BINS)
    frame = cells.groupby("bin")[["n", "correct", "confidence_sum"]].sum()
    frame = frame.reindex(range(N_BINS), fill_value=0).rename_axis("bin").reset_index()
    frame.insert(1, "bin_lower", frame["bin"] / N_BINS)
    frame.insert(2, "bin_upper", (frame["bin"] + 1) / N_BINS)
    frame["mean_confidence"] = frame["confidence_sum"].astype(float) / frame["n"].where(
        frame["n"] > 0
    )
    return _with_accuracy(frame.drop(columns="confidence_sum"))


def expected_calibration_error(bins: pd.DataFrame) -> float | None:
    """Sum over bins of (share of predictions) x |accuracy - mean confidence|; None if empty."""
    total = int(bins["n"].sum())
    if total == 0:
        return None
    used = bins[bins["n"] > 0]
    gaps = (used["accuracy"] - used["mean_confidence"]).abs()
    return float((used["n"] / total * gaps).sum())


def accuracy_by_model(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """Every model version: MNIST test accuracy beside n, correct, accuracy on real drawings
    and the share of them answered unsure.

    One row per version whatever `filters.model_version_id` says; the dates apply.
    """
    every_version = dataclasses.replace(filters, model_version_id=None)
    models = _read(
        session,
        sa.select(
            ModelVersion.id,
            ModelVersion.name,
            ModelVersion.architecture,
            ModelVersion.test_accuracy,
        ).order_by(ModelVersion.id),
        ["model_version_id", "model_name", "architecture", "test_accuracy"],
    )
    labelled = _cells(session, every_version, ["model_version_id"]).set_index("model_version_id")
    unlabelled = _read(
        session,
        sa.select(Prediction.model_version_id, sa.func.count())
        .where(Prediction.true_label.is_(None), *every_version.on(Prediction.__table__))
        .group_by(Prediction.model_version_id),
        ["model_version_id", "unlabelled"],
    ).set_index("model_version_id")
    frame = models.join(labelled, on="model_version_id").join(unlabelled, on="model_version_id")
    frame = frame.fillna({"n": 0, "correct": 0, "unsure": 0, "unlabelled": 0})
    frame["n_predictions"] = (frame["n"] + frame["unlabelled"]).astype(int)
    labelled = frame["n"].where(frame["n"] > 0)
    frame["mean_confidence"] = frame["confidence_sum"].astype(float) / labelled
    frame["unsure_share"] = frame["unsure"].astype(float) / labelled
    frame["test_accuracy"] = frame["test_accuracy"].astype(float)
    columns = ["model_version_id", "model_name", "architecture", "test_accuracy"]
    columns += ["n_predictions", "n", "correct"]
    return _with_accuracy(frame)[[*columns, "accuracy", "mean_confidence", "unsure_share"]]


def accuracy_over_time(session: Session, filters: Filters = ALL) -> pd.DataFrame:
    """Per UTC day and model version: n, correct, accuracy (days without labels absent)."""
    frame = _cells(session, filters, ["day", "model_version_id"])
    names = dict(session.execute(sa.select(ModelVersion.id, ModelVersion.name)).all())
    frame.insert(2, "model_name", frame["model_version_id"].map(names))
    frame["day"] = pd.to_datetime(frame["day"])
    frame = frame.sort_values(["day", "model_version_id"], ignore_index=True)
    return _with_accuracy(frame[["day", "model_version_id", "model_name", "n", "correct"]])


def read_view(session: Session, name: str) -> pd.DataFrame:
    """Any analytics view as it stands, unfiltered (for a "raw data" page or export)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; the views are {', '.join(VIEW_NAMES)}")
    view = VIEWS[name]
    return _read(session, sa.select(view), [c.name for c in view.columns])


class _CellSource(NamedTuple):
    """Where cells come from: their key columns, aggregates and the filters' conditions."""

    columns: dict[str, Any]
    n: Any
    correct: Any
    confidence_sum: Any
    unsure: Any
    conditions: list[Any]


def _cells(session: Session, where: Filters, by: list[str]) -> pd.DataFrame:
    """Labelled predictions matching `where`, grouped by `by` (some of CELL_KEYS).

    Columns: `by`, then n, correct, confidence_sum, unsure; one row per non-empty group
    (one row, with zeros, when `by` is empty). From prediction_stats when the filters are
    whole days and `where.from_summary`, else aggregated from the rows.
    """
    use_summary = where.from_summary and where.whole_days()
    source = _summary_cells(where) if use_summary else _row_cells(session, where)
    keys = [source.columns[key].label(key) for key in by]
    query = sa.select(
        *keys,
        sa.func.coalesce(source.n, 0).label("n"),
        sa.func.coalesce(source.correct, 0).label("correct"),
        source.confidence_sum.label("confidence_sum"),
        sa.func.coalesce(source.unsure, 0).label("unsure"),
    ).where(*source.conditions)
    if keys:
        query = query.group_by(*keys)
    frame = _read(session, query, [*by, "n", "correct", "confidence_sum", "unsure"])
    return frame.astype({"n": int, "correct": int, "confidence_sum": float, "unsure": int})


def _summary_cells(where: Filters) -> _CellSource:
    """Cells summed from prediction_stats (whole UTC days only)."""
    conditions = []
    if where.model_version_id is not None:
        conditions.append(stats.model_version_id == where.model_version_id)
    if where.since is not None:
        conditions.append(stats.day >= where.since.date())
    if where.until is not None:
        conditions.append(stats.day < where.until.date())
    return _CellSource(
        columns={key: stats[key] for key in CELL_KEYS},
        n=sa.func.sum(stats.n),
        correct=sa.func.sum(sa.case((stats.true_label == stats.predicted_digit, stats.n), else_=0)),
        confidence_sum=sa.func.sum(stats.confidence_sum),
        unsure=sa.func.sum(stats.unsure_n),
        conditions=conditions,
    )


def _row_cells(session: Session, where: Filters) -> _CellSource:
    """Cells aggregated from the labelled rows (`labeled_predictions`), any time range."""
    return _CellSource(
        columns={
            "day": _utc_day(session),
            "model_version_id": lp.c.model_version_id,
            "true_label": lp.c.true_label,
            "predicted_digit": lp.c.predicted_digit,
            "confidence_bin": _confidence_bin(HISTOGRAM_BINS),
        },
        n=sa.func.count(),
        correct=_CORRECT,
        confidence_sum=sa.func.sum(lp.c.confidence),
        unsure=sa.func.sum(sa.case((lp.c.unsure, 1), else_=0)),
        conditions=where.on(lp),
    )


def _labelled_and_correct(session: Session, where: Filters) -> tuple[int, int]:
    row = _cells(session, where, []).iloc[0]
    return int(row["n"]), int(row["correct"])


def _unlabelled(session: Session, where: Filters) -> int:
    """Predictions without a label (the partial index ix_predictions_unlabelled holds them)."""
    query = sa.select(sa.func.count()).select_from(Prediction)
    query = query.where(Prediction.true_label.is_(None), *where.on(Prediction.__table__))
    return int(session.execute(query).scalar_one())


def _utc_day(session: Session) -> Any:
    """The UTC day of a labelled prediction, as prediction_stats.day holds it."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone(sa.literal_column("'UTC'"), lp.c.created_at), sa.Date)
    return sa.func.date(lp.c.created_at, type_=sa.Date)


def _confidence_bin(bins: int) -> Any:
    """Bin b of `bins` equal bins holds confidences in [b/bins, (b+1)/bins); 1.0 is in the last.

    The same CASE the calibration_bins view and prediction_stats' triggers use
    (comparisons with the bin edges, no floor(), which SQLite may lack), so every
    path bins a confidence on an edge the same way.
    """
    edges = ((lp.c.confidence >= b / bins, b) for b in range(bins - 1, 0, -1))
    return sa.case(*edges, else_=0)


def _read(session: Session, query: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
    rows = [tuple(row) for row in session.execute(query).all()]
    return pd.DataFrame.from_records(rows, columns=columns)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _with_accuracy(frame: pd.DataFrame) -> pd.DataFrame:
    frame["n"] = frame["n"].astype(int)
    frame["correct"] = frame["correct"].astype(int)
    frame["accuracy"] = frame["correct"] / frame["n"].where(frame["n"] > 0)
    return frame
