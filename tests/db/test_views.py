"""Every view and every analytics function on the seeded set, against answers by hand.

The seeded rows (db_test_data.SEED_ROWS, numbered 1..11 there):

| row | model | predicted | label | confidence | created (UTC) |
| --- | --- | --- | --- | --- | --- |
| 1 | A | 3 | 3 | 0.95 | 03-09 10:00 |
| 2 | A | 3 | 5 | 0.91 | 03-09 11:00 |
| 3 | A | 7 | 7 | 0.85 | 03-09 23:30 (written as 03-10 00:30+01:00) |
| 4 | A | 1 | 7 | 0.50 | 03-10 01:00 |
| 5 | A | 1 | 1 | 0.99 | 03-10 02:00 |
| 6 | B | 5 | 5 | 0.65 | 03-10 03:00 |
| 7 | B | 5 | 3 | 0.60 | 03-10 04:00 |
| 8 | B | 0 | 0 | 1.00 | 03-10 05:00 |
| 9 | A | 2 | - | 0.70 | 03-10 06:00 |
| 10 | B | 4 | - | 0.30 | 03-09 07:00 |
| 11 | A | 3 | 5 | 0.80 | 03-10 07:00 |

Labelled: 9 rows, correct: 1, 3, 5, 6, 8 -> 5 of 9. Model C has no predictions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_test_data import D2, NOW
from sqlalchemy.orm import Session

from db import analytics, repository
from db.engine import session_scope
from db.filters import Filters
from testing_support.feedback import make_submission, register

# true_label -> (n, correct): 0: row 8; 1: row 5; 3: rows 1, 7; 5: rows 2, 6, 11; 7: rows 3, 4
BY_DIGIT = {0: (1, 1), 1: (1, 1), 3: (2, 1), 5: (3, 1), 7: (2, 1)}
# (true, predicted) -> n; (5, 3) twice: rows 2 and 11
CONFUSION = {(0, 0): 1, (1, 1): 1, (3, 3): 1, (3, 5): 1, (5, 3): 2, (5, 5): 1, (7, 7): 1, (7, 1): 1}
# bin -> (n, correct, mean confidence)
BINS = {
    5: (1, 0, 0.50),  # row 4
    6: (2, 1, (0.65 + 0.60) / 2),  # rows 6, 7
    8: (2, 1, (0.85 + 0.80) / 2),  # rows 3, 11
    9: (4, 3, (0.95 + 0.91 + 0.99 + 1.00) / 4),  # rows 1, 2, 5, 8
}
# (day, model) -> (n, correct): day 1 A: rows 1, 2, 3; day 2 A: 4, 5, 11; day 2 B: 6, 7, 8
BY_DAY = {("2026-03-09", "A"): (3, 2), ("2026-03-10", "A"): (3, 1), ("2026-03-10", "B"): (3, 2)}


@pytest.fixture
def session(seeded: dict) -> Iterator[Session]:
    with session_scope(seeded["url"]) as session:
        if session.get_bind().dialect.name == "postgresql":
            # Far from UTC: a view that used the session's zone would move rows to the next day.
            session.execute(sa.text("SET TIME ZONE 'Pacific/Kiritimati'"))
        yield session


def _view(session: Session, name: str, order: str) -> list[dict]:
    rows = session.execute(sa.text(f"SELECT * FROM {name} ORDER BY {order}")).mappings()
    return [dict(row) for row in rows]


def test_labeled_predictions_view(session: Session, seeded: dict) -> None:
    rows = _view(session, "labeled_predictions", "id")
    ids = seeded["ids"]
    assert [row["id"] for row in rows] == [ids[n - 1] for n in (1, 2, 3, 4, 5, 6, 7, 8, 11)]
    assert [bool(row["is_correct"]) for row in rows] == [1, 0, 1, 0, 1, 1, 0, 1, 0]
    assert {row["model_name"] for row in rows} == {"model-A", "model-B"}
    assert all(row["labeled_at"] is not None for row in rows)


def test_accuracy_by_digit_view(session: Session) -> None:
    rows = _view(session, "accuracy_by_digit", "true_label")
    assert {r["true_label"]: (r["n"], r["correct"]) for r in rows} == BY_DIGIT
    assert [r["accuracy"] for r in rows] == pytest.approx([1.0, 1.0, 0.5, 1 / 3, 0.5])


def test_confusion_matrix_view(session: Session) -> None:
    rows = _view(session, "confusion_matrix", "true_label, predicted_digit")
    assert {(r["true_label"], r["predicted_digit"]): r["n"] for r in rows} == CONFUSION


def test_accuracy_by_model_view(session: Session, seeded: dict) -> None:
    rows = {r["model_name"]: r for r in _view(session, "accuracy_by_model", "model_version_id")}
    a, b, c = rows["model-A"], rows["model-B"], rows["model-C"]
    assert (a["n_predictions"], a["n"], a["correct"]) == (7, 6, 3)
    assert a["accuracy"] == pytest.approx(0.5)
    assert a["mean_confidence"] == pytest.approx((0.95 + 0.91 + 0.85 + 0.50 + 0.99 + 0.80) / 6)
    assert (b["n_predictions"], b["n"], b["correct"]) == (4, 3, 2)
    assert b["accuracy"] == pytest.approx(2 / 3)
    assert b["mean_confidence"] == pytest.approx(0.75)
    assert (c["n_predictions"], c["n"], c["correct"], c["accuracy"]) == (0, 0, 0, None)
    assert c["mean_confidence"] is None and c["model_version_id"] == seeded["models"]["C"]


def test_accuracy_by_day_view_uses_utc_days(session: Session) -> None:
    rows = _view(session, "accuracy_by_day", "day, model_version_id")
    found = {(str(r["day"]), r["model_name"][-1]): (r["n"], r["correct"]) for r in rows}
    assert found == BY_DAY
    assert [r["accuracy"] for r in rows] == pytest.approx([2 / 3, 1 / 3, 2 / 3])


def test_calibration_bins_view(session: Session) -> None:
    rows = _view(session, "calibration_bins", "bin")
    assert {r["bin"]: (r["n"], r["correct"]) for r in rows} == {
        b: (n, c) for b, (n, c, _) in BINS.items()
    }
    assert [r["mean_confidence"] for r in rows] == pytest.approx([m for _, _, m in BINS.values()])
    assert [r["accuracy"] for r in rows] == pytest.approx([0.0, 0.5, 0.5, 0.75])
    assert [r["bin_lower"] for r in rows] == pytest.approx([0.5, 0.6, 0.8, 0.9])
    assert [r["bin_upper"] for r in rows] == pytest.approx([0.6, 0.7, 0.9, 1.0])


def test_kpis(session: Session, seeded: dict) -> None:
    everything = analytics.kpis(session, now=NOW)
    assert (everything.predictions, everything.labelled, everything.correct) == (11, 9, 5)
    assert everything.accuracy == pytest.approx(5 / 9)
    # [03-09 12:00, 03-10 12:00): rows 3, 4, 5, 6, 7, 8, 11 labelled; 3, 5, 6, 8 correct
    assert everything.labelled_last_24h == 7
    assert everything.accuracy_last_24h == pytest.approx(4 / 7)

    model_a = analytics.kpis(session, Filters(model_version_id=seeded["models"]["A"]), now=NOW)
    assert (model_a.predictions, model_a.labelled, model_a.correct) == (7, 6, 3)
    day_two = analytics.kpis(session, Filters(since=date(2026, 3, 10)), now=NOW)
    assert (day_two.predictions, day_two.labelled, day_two.correct) == (7, 6, 3)

    nothing = analytics.kpis(session, Filters(model_version_id=seeded["models"]["C"]), now=NOW)
    assert (nothing.predictions, nothing.accuracy, nothing.accuracy_last_24h) == (0, None, None)


def test_analytics_functions_on_the_seeded_set(session: Session, seeded: dict) -> None:
    digits = analytics.accuracy_by_digit(session)
    assert list(digits["true_label"]) == list(range(10))
    assert {
        int(r.true_label): (int(r.n), int(r.correct)) for r in digits.itertuples() if r.n
    } == BY_DIGIT
    assert digits.loc[digits["n"] == 0, "accuracy"].isna().all()

    matrix = analytics.confusion_matrix(session)
    assert matrix.shape == (10, 10) and int(matrix.to_numpy().sum()) == 9
    assert {
        (t, p): int(matrix.loc[t, p]) for t in range(10) for p in range(10) if matrix.loc[t, p]
    } == CONFUSION

    bins = analytics.calibration_bins(session)
    assert len(bins) == 10
    assert {int(r.bin): (int(r.n), int(r.correct)) for r in bins.itertuples() if r.n} == {
        b: (n, c) for b, (n, c, _) in BINS.items()
    }
    # ECE = (1*|0-.5| + 2*|.5-.625| + 2*|.5-.825| + 4*|.75-.9625|) / 9 = 2.25 / 9
    assert analytics.expected_calibration_error(bins) == pytest.approx(0.25)

    outcome = analytics.confidence_by_outcome(session).set_index("bin")
    assert list(outcome.index) == list(range(20))
    assert outcome.loc[3, "bin_lower"] == pytest.approx(0.15)
    assert outcome.loc[3, "bin_upper"] == pytest.approx(0.2)
    # wrong: 0.50, 0.60, 0.80, 0.91 (lower edges stay in their bin); right: 0.65, 0.85,
    # 0.95, 0.99 and 1.00 (1.0 belongs to the last bin)
    assert {b: n for b, n in outcome["wrong"].items() if n} == {10: 1, 12: 1, 16: 1, 18: 1}
    assert {b: n for b, n in outcome["correct"].items() if n} == {13: 1, 17: 1, 19: 3}

    over_time = analytics.accuracy_over_time(session)
    found = {
        (r.day.strftime("%Y-%m-%d"), r.model_name[-1]): (int(r.n), int(r.correct))
        for r in over_time.itertuples()
    }
    assert found == BY_DAY

    models = analytics.accuracy_by_model(session).set_index("model_name")
    assert list(models["n_predictions"]) == [7, 4, 0] and list(models["n"]) == [6, 3, 0]
    assert models.loc["model-C", "accuracy"] != models.loc["model-C", "accuracy"]  # NaN


def test_filters_narrow_every_statistic(session: Session, seeded: dict) -> None:
    model_b = seeded["models"]["B"]
    digits = analytics.accuracy_by_digit(session, Filters(model_version_id=model_b))
    assert {int(r.true_label): (int(r.n), int(r.correct)) for r in digits.itertuples() if r.n} == {
        0: (1, 1),
        3: (1, 0),
        5: (1, 1),
    }
    day_two = analytics.confusion_matrix(session, Filters(since=D2))  # rows 4-8 and 11
    assert int(day_two.to_numpy().sum()) == 6 and int(day_two.loc[5, 3]) == 1
    day_one = analytics.calibration_bins(session, Filters(until=D2))  # rows 1, 2, 3
    assert list(day_one["n"]) == [0, 0, 0, 0, 0, 0, 0, 0, 1, 2]
    models = analytics.accuracy_by_model(session, Filters(until=D2)).set_index("model_name")
    assert list(models["n_predictions"]) == [3, 1, 0] and list(models["n"]) == [3, 0, 0]
    over_time = analytics.accuracy_over_time(session, Filters(model_version_id=model_b))
    assert list(over_time["n"]) == [3]


def _normalised(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    frame = frame.sort_values(keys).reset_index(drop=True)
    text = ("model_name", "architecture", "day")
    return frame.astype({c: float for c in frame.columns if c not in text})


@pytest.mark.parametrize(
    ("view", "function", "keys"),
    [
        ("accuracy_by_digit", analytics.accuracy_by_digit, ["true_label"]),
        ("accuracy_by_model", analytics.accuracy_by_model, ["model_version_id"]),
        ("calibration_bins", analytics.calibration_bins, ["bin"]),
    ],
)
def test_unfiltered_analytics_equal_the_views(
    session, view: str, function, keys: list[str]
) -> None:
    """The dashboard and an analyst in psql must never disagree."""
    from_view = analytics.read_view(session, view)
    computed = function(session)
    computed = computed[computed["n"] > 0] if view != "accuracy_by_model" else computed
    expected = _normalised(from_view, keys)
    got = _normalised(computed[list(from_view.columns)], keys)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)


def test_unfiltered_over_time_and_confusion_equal_the_views(session: Session) -> None:
    by_day = analytics.read_view(session, "accuracy_by_day")
    by_day["day"] = pd.to_datetime(by_day["day"])
    over_time = analytics.accuracy_over_time(session)[list(by_day.columns)]
    keys = ["day", "model_version_id"]
    pd.testing.assert_frame_equal(_normalised(over_time, keys), _normalised(by_day, keys))

    long = analytics.confusion_matrix(session).stack().rename("n").reset_index()
    long = long[long["n"] > 0]
    keys = ["true_label", "predicted_digit"]
    pd.testing.assert_frame_equal(
        _normalised(long, keys), _normalised(analytics.read_view(session, "confusion_matrix"), keys)
    )


def test_read_view_refuses_other_names(session: Session) -> None:
    with pytest.raises(ValueError, match="unknown view 'predictions'; the views are"):
        analytics.read_view(session, "predictions")


def test_empty_database_gives_full_shaped_results(db_url: str) -> None:
    with session_scope(db_url) as session:
        assert analytics.kpis(session).accuracy is None
        assert len(analytics.accuracy_by_digit(session)) == 10
        assert analytics.confusion_matrix(session).to_numpy().sum() == 0
        bins = analytics.calibration_bins(session)
        assert len(bins) == 10 and analytics.expected_calibration_error(bins) is None
        assert analytics.accuracy_over_time(session).empty
        outcome = analytics.confidence_by_outcome(session)
        assert len(outcome) == 20 and outcome[["correct", "wrong"]].to_numpy().sum() == 0
        unsure = analytics.unsure_report(session)
        assert unsure.flagged is None and unsure.errors_caught is None


def test_unsure_report_counts_flags_on_right_and_wrong_answers(db_url: str) -> None:
    # (predicted, label, unsure): right and sure x3, right but flagged, wrong and
    # flagged x2, wrong and sure; an unlabelled flagged answer counts nowhere.
    answers = [(3, 3, False)] * 3 + [(4, 4, True)] + [(1, 7, True)] * 2 + [(5, 6, False)]
    answers += [(2, None, True)]
    with session_scope(db_url) as session:
        for predicted, label, unsure in answers:
            submission = make_submission(label=label, predicted_digit=predicted, unsure=unsure)
            repository.store(session, submission)
    with session_scope(db_url) as session:
        for filters in (Filters(), Filters(from_summary=False)):
            report = analytics.unsure_report(session, filters)
            assert (report.labelled, report.correct, report.unsure) == (7, 4, 3)
            assert report.flagged == pytest.approx(3 / 7)
            assert report.flagged_when_right == pytest.approx(1 / 4)
            assert report.errors_caught == pytest.approx(2 / 3)
            assert report.accuracy_when_sure == pytest.approx(3 / 4)
            by_model = analytics.accuracy_by_model(session, filters)
            assert by_model["unsure_share"].tolist() == [pytest.approx(3 / 7)]


def test_confidence_histogram_equals_counts_from_the_raw_rows(db_url: str) -> None:
    """Binned in SQL, it must count exactly what binning every labelled row in Python does.

    Confidences include every bin edge k/20 (a float that lands on the wrong side of an
    edge would move a row), 0 and 1; some rows stay unlabelled, one is relabelled.
    """
    rng = np.random.default_rng(8)
    confidences = [k / 20 for k in range(21)] + list(rng.uniform(0, 1, 80))
    with session_scope(db_url) as session:
        version = register(session)
        register(session, "other-model")
        ids = []
        for i, confidence in enumerate(confidences):
            predicted = int(rng.integers(0, 10))
            label = predicted if rng.random() < 0.6 else int(rng.integers(0, 10))
            submission = make_submission(
                label=None if i % 5 == 4 else label,
                model_name="other-model" if i % 7 == 0 else "cnn-test",
                predicted_digit=predicted,
                confidence=float(confidence),
            )
            ids.append(repository.store(session, submission))
        right = repository.get_prediction(session, ids[0]).predicted_digit
        repository.set_label(session, ids[0], (right + 1) % 10)  # corrected: now wrong
        repository.clear_label(session, ids[1])
    with session_scope(db_url) as session:
        for filters in ({}, {"model_version_id": version}):
            raw = repository.list_predictions(
                session, Filters(**filters), status="labelled", limit=None
            )
            expected = {"correct": [0] * 20, "wrong": [0] * 20}
            for row in raw.itertuples():
                b = max(k for k in range(20) if row.confidence >= k / 20)
                outcome = "correct" if row.true_label == row.predicted_digit else "wrong"
                expected[outcome][b] += 1
            got = analytics.confidence_by_outcome(session, Filters(**filters))
            assert list(got["correct"]) == expected["correct"], filters
            assert list(got["wrong"]) == expected["wrong"], filters
            assert got[["correct", "wrong"]].to_numpy().sum() == len(raw) > 0


def test_filters_are_checked_when_made() -> None:
    day = Filters(model_version_id=np.int64(3), since=date(2026, 3, 9), until=D2)
    assert day.model_version_id == 3 and day.since == datetime(2026, 3, 9, tzinfo=UTC)
    assert day.whole_days() and not Filters(since=D2 + timedelta(hours=1)).whole_days()
    with pytest.raises(ValueError, match=r"since \(2026-03-10T00:00:00\+00:00\) must be before"):
        Filters(since=D2, until=date(2026, 3, 9))
    with pytest.raises(ValueError, match=r"model_version_id must be a whole number, got 3\.7"):
        Filters(model_version_id=3.7)
    with pytest.raises(ValueError, match="since must be a date or a datetime"):
        Filters(since="yesterday")
