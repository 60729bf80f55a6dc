"""The dashboard's statistics, read from the SQL analytics views.

Why aggregate here rather than `SELECT * FROM accuracy_by_digit`: the dashboard
filters by model version and date range, which the pre-aggregated views cannot do.
So every function aggregates `labeled_predictions` (the view that defines
`is_correct`) in SQL, with the filters applied first. With no filters the results
equal the aggregate views exactly -- a test holds them to that -- so the dashboard
and an analyst's psql session never disagree.

Filters, shared by all functions: `model_version_id`, `since` (inclusive) and
`until` (exclusive) on the drawing's `created_at`; dates mean midnight UTC.
Every result has a fixed shape (ten digits, ten bins, a 10x10 matrix) so charts need
no special case for "no data yet": counts are 0 and accuracies NaN there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import validation as check
from db.schema import N_CLASSES, ModelVersion, Prediction
from db.views import VIEW_NAMES, VIEWS, labeled_predictions

lp = labeled_predictions
DIGITS = range(N_CLASSES)
N_BINS = 10  # calibration bins
HISTOGRAM_BINS = 20  # confidence histogram bins
_CORRECT = sa.func.sum(sa.case((lp.c.is_correct, 1), else_=0))


@dataclass(frozen=True)
class Kpis:
    """The headline numbers. Accuracies are None while nothing is labelled."""

    predictions: int
    labelled: int
    correct: int
    accuracy: float | None
    labelled_last_24h: int
    accuracy_last_24h: float | None


def kpis(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    now: datetime | None = None,
) -> Kpis:
    """Predictions, labelled, accuracy on labelled, and accuracy of the last 24 hours.

    "Last 24 hours" is [now - 24 h, now), intersected with the filters; `now`
    defaults to the current time (tests pass it).
    """
    where = _filters(model_version_id, since, until)
    predictions = session.execute(
        sa.select(sa.func.count()).select_from(Prediction).where(*_table_filters(where))
    ).scalar_one()
    labelled, correct = _count_correct(session, where.conditions)
    moment = check.moment(now, "now") or datetime.now(UTC)
    recent = [*where.conditions, lp.c.created_at >= moment - timedelta(hours=24)]
    recent.append(lp.c.created_at < moment)
    labelled_24h, correct_24h = _count_correct(session, recent)
    return Kpis(
        predictions=int(predictions),
        labelled=labelled,
        correct=correct,
        accuracy=correct / labelled if labelled else None,
        labelled_last_24h=labelled_24h,
        accuracy_last_24h=correct_24h / labelled_24h if labelled_24h else None,
    )


def accuracy_by_digit(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """One row per true digit 0..9: n, correct, accuracy (NaN where n = 0)."""
    query = (
        sa.select(lp.c.true_label, sa.func.count().label("n"), _CORRECT.label("correct"))
        .where(*_filters(model_version_id, since, until).conditions)
        .group_by(lp.c.true_label)
    )
    frame = _read(session, query, ["true_label", "n", "correct"]).set_index("true_label")
    frame = frame.reindex(DIGITS, fill_value=0).rename_axis("true_label").reset_index()
    return _with_accuracy(frame)


def confusion_matrix(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """Counts as a 10x10 table: rows are true labels, columns predicted digits."""
    query = (
        sa.select(lp.c.true_label, lp.c.predicted_digit, sa.func.count().label("n"))
        .where(*_filters(model_version_id, since, until).conditions)
        .group_by(lp.c.true_label, lp.c.predicted_digit)
    )
    counts = _read(session, query, ["true_label", "predicted_digit", "n"])
    matrix = counts.pivot_table(
        index="true_label", columns="predicted_digit", values="n", aggfunc="sum", fill_value=0
    )
    matrix = matrix.reindex(index=DIGITS, columns=DIGITS, fill_value=0).astype(int)
    return matrix.rename_axis(index="true_label", columns="predicted_digit")


def confidence_by_outcome(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """How many right and wrong answers fall in each confidence bin (for a histogram).

    Twenty bins [b/20, (b+1)/20) (the last also holds 1.0): columns bin, bin_lower,
    bin_upper, correct, wrong. Binned and counted in SQL, so the result is 20 rows
    however many predictions are labelled (it used to be one row per prediction,
    every labelled row pulled into Python).
    """
    bin_of = _confidence_bin(HISTOGRAM_BINS)
    wrong = sa.func.sum(sa.case((lp.c.is_correct, 0), else_=1))
    query = (
        sa.select(bin_of, _CORRECT.label("correct"), wrong.label("wrong"))
        .where(*_filters(model_version_id, since, until).conditions)
        .group_by(bin_of)
    )
    frame = _read(session, query, ["bin", "correct", "wrong"]).set_index("bin")
    frame = frame.reindex(range(HISTOGRAM_BINS), fill_value=0).rename_axis("bin").reset_index()
    frame.insert(1, "bin_lower", frame["bin"] / HISTOGRAM_BINS)
    frame.insert(2, "bin_upper", (frame["bin"] + 1) / HISTOGRAM_BINS)
    return frame.astype({"correct": int, "wrong": int})


def calibration_bins(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """Ten confidence bins [b/10, (b+1)/10): n, correct, mean confidence, accuracy.

    A calibrated model has accuracy close to mean confidence in every bin.
    """
    bin_of = _confidence_bin(N_BINS)
    query = (
        sa.select(
            bin_of,
            sa.func.count().label("n"),
            _CORRECT.label("correct"),
            sa.func.sum(lp.c.confidence).label("confidence_sum"),
        )
        .where(*_filters(model_version_id, since, until).conditions)
        .group_by(bin_of)
    )
    frame = _read(session, query, ["bin", "n", "correct", "confidence_sum"]).set_index("bin")
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


def accuracy_by_model(
    session: Session,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """Every model version: MNIST test accuracy beside n, correct, accuracy on real drawings."""
    where = _filters(None, since, until)
    n_predictions = (
        sa.select(sa.func.count())
        .select_from(Prediction)
        .where(Prediction.model_version_id == ModelVersion.id, *_table_filters(where))
        .scalar_subquery()
    )
    joined = sa.outerjoin(
        ModelVersion, lp, sa.and_(lp.c.model_version_id == ModelVersion.id, *where.conditions)
    )
    query = (
        sa.select(
            ModelVersion.id,
            ModelVersion.name,
            ModelVersion.architecture,
            ModelVersion.test_accuracy,
            n_predictions,
            sa.func.count(lp.c.id),
            sa.func.coalesce(_CORRECT, 0),
            sa.func.avg(lp.c.confidence),
        )
        .select_from(joined)
        .group_by(
            ModelVersion.id,
            ModelVersion.name,
            ModelVersion.architecture,
            ModelVersion.test_accuracy,
        )
        .order_by(ModelVersion.id)
    )
    columns = ["model_version_id", "model_name", "architecture", "test_accuracy"]
    columns += ["n_predictions", "n", "correct"]
    frame = _read(session, query, [*columns, "mean_confidence"])
    frame["mean_confidence"] = frame["mean_confidence"].astype(float)
    return _with_accuracy(frame)[[*columns, "accuracy", "mean_confidence"]]


def accuracy_over_time(
    session: Session,
    *,
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> pd.DataFrame:
    """Per UTC day and model version: n, correct, accuracy (days without labels absent)."""
    if session.get_bind().dialect.name == "postgresql":
        day = sa.cast(sa.func.timezone(sa.literal_column("'UTC'"), lp.c.created_at), sa.Date)
    else:
        day = sa.func.date(lp.c.created_at, type_=sa.Date)
    day = day.label("day")
    query = (
        sa.select(day, lp.c.model_version_id, lp.c.model_name, sa.func.count(), _CORRECT.label("c"))
        .where(*_filters(model_version_id, since, until).conditions)
        .group_by(day, lp.c.model_version_id, lp.c.model_name)
        .order_by(day, lp.c.model_version_id)
    )
    frame = _read(session, query, ["day", "model_version_id", "model_name", "n", "correct"])
    frame["day"] = pd.to_datetime(frame["day"])
    return _with_accuracy(frame)


def read_view(session: Session, name: str) -> pd.DataFrame:
    """Any analytics view as it stands, unfiltered (for a "raw data" page or export)."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; the views are {', '.join(VIEW_NAMES)}")
    view = VIEWS[name]
    return _read(session, sa.select(view), [c.name for c in view.columns])


@dataclass(frozen=True)
class _Where:
    conditions: list[Any]
    model_version_id: int | None
    since: datetime | None
    until: datetime | None


def _filters(
    model_version_id: int | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
) -> _Where:
    start, end = check.time_range(since, until)
    conditions: list[Any] = []
    if model_version_id is not None:
        model_version_id = check.whole_number(model_version_id, "model_version_id")
        conditions.append(lp.c.model_version_id == model_version_id)
    if start is not None:
        conditions.append(lp.c.created_at >= start)
    if end is not None:
        conditions.append(lp.c.created_at < end)
    return _Where(conditions, model_version_id, start, end)


def _table_filters(where: _Where) -> list[Any]:
    """The same filters on the `predictions` table, for counts that include unlabelled rows."""
    conditions: list[Any] = []
    if where.model_version_id is not None:
        conditions.append(Prediction.model_version_id == where.model_version_id)
    if where.since is not None:
        conditions.append(Prediction.created_at >= where.since)
    if where.until is not None:
        conditions.append(Prediction.created_at < where.until)
    return conditions


def _confidence_bin(bins: int) -> Any:
    """Bin b of `bins` equal bins holds confidences in [b/bins, (b+1)/bins); 1.0 is in the last.

    The same CASE the calibration_bins view uses (comparisons with the bin edges, no
    floor(), which SQLite may lack), so the dashboard and the view agree to the row.
    """
    edges = ((lp.c.confidence >= b / bins, b) for b in range(bins - 1, 0, -1))
    return sa.case(*edges, else_=0).label("bin")


def _count_correct(session: Session, conditions: list[Any]) -> tuple[int, int]:
    query = sa.select(sa.func.count(), sa.func.coalesce(_CORRECT, 0)).where(*conditions)
    n, correct = session.execute(query).one()
    return int(n), int(correct)


def _read(session: Session, query: sa.Select[Any], columns: list[str]) -> pd.DataFrame:
    rows = [tuple(row) for row in session.execute(query).all()]
    return pd.DataFrame.from_records(rows, columns=columns)


def _with_accuracy(frame: pd.DataFrame) -> pd.DataFrame:
    frame["n"] = frame["n"].astype(int)
    frame["correct"] = frame["correct"].astype(int)
    frame["accuracy"] = frame["correct"] / frame["n"].where(frame["n"] > 0)
    return frame
