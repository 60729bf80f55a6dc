"""prediction_stats, the summary the dashboard reads: always equal to counting the rows.

Triggers keep it (migrations 0003 and 0006); these tests change predictions every way the app
(and a migration, and an administrator's UPDATE) can, and after each change compare
the whole table with a recomputation from the raw rows in Python. Then the
statistics read from it must equal the same statistics aggregated from the rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from db import analytics, migrate, repository
from db.engine import session_scope
from db.filters import Filters
from db.schema import Prediction, PredictionStats
from testing_support.feedback import make_submission, register

DAY = datetime(2026, 3, 9, tzinfo=UTC)


def _bin(confidence: float) -> int:
    return max(b for b in range(20) if confidence >= b / 20)


def recomputed(session: Session) -> dict[tuple, tuple[int, float, int]]:
    """(day, model, true, predicted, bin) -> (n, sum of confidences, unsure), from the rows."""
    cells: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0])
    rows = session.execute(
        sa.select(
            Prediction.created_at,
            Prediction.model_version_id,
            Prediction.true_label,
            Prediction.predicted_digit,
            Prediction.confidence,
            Prediction.unsure,
        ).where(Prediction.true_label.is_not(None))
    )
    for created_at, model, true_label, predicted, confidence, unsure in rows:
        key = (created_at.astimezone(UTC).date(), model, true_label, predicted, _bin(confidence))
        cells[key][0] += 1
        cells[key][1] += confidence
        cells[key][2] += int(unsure)
    return {key: tuple(cell) for key, cell in cells.items()}


def summary(session: Session) -> dict[tuple, tuple[int, float, int]]:
    rows = session.execute(sa.select(PredictionStats)).scalars()
    return {
        (r.day, r.model_version_id, r.true_label, r.predicted_digit, r.confidence_bin): (
            r.n,
            r.confidence_sum,
            r.unsure_n,
        )
        for r in rows
    }


def assert_summary_is_exact(url: str) -> None:
    with session_scope(url) as session:
        expected, got = recomputed(session), summary(session)
    assert got.keys() == expected.keys()  # no missing cell, and no cell left at n = 0
    for key, (n, total, unsure) in expected.items():
        assert got[key][0] == n, key
        assert got[key][1] == pytest.approx(total, rel=1e-9, abs=1e-9), key
        assert got[key][2] == unsure, key


def populate(url: str, n: int = 160, seed: int = 0) -> dict[str, Any]:
    """Two models, `n` predictions over four days, every bin edge among the confidences;
    the less confident ones, and a few others, answered unsure."""
    rng = np.random.default_rng(seed)
    confidences = [b / 20 for b in range(21)]
    confidences += list(rng.uniform(0, 1, n - len(confidences)))
    ids = []
    with session_scope(url) as session:
        models = [register(session, "model-a"), register(session, "model-b")]
        for i, confidence in enumerate(confidences):
            predicted = int(rng.integers(0, 10))
            label = predicted if rng.random() < 0.7 else int(rng.integers(0, 10))
            made = DAY + timedelta(hours=float(rng.uniform(0, 96)))
            submission = make_submission(
                label=None if i % 4 == 3 else label,
                model_name=("model-a", "model-b")[i % 2],
                predicted_digit=predicted,
                confidence=float(confidence),
                created_at=made,
                unsure=bool(confidence < 0.6 or rng.random() < 0.1),
            )
            ids.append(repository.store(session, submission))
    return {"models": models, "ids": ids, "rng": rng}


def test_summary_follows_inserts_corrections_and_deletes(db_url: str) -> None:
    data = populate(db_url)
    ids, rng = data["ids"], data["rng"]
    assert_summary_is_exact(db_url)

    with session_scope(db_url) as session:
        for prediction_id in ids[:40]:  # corrections: a different label, same or other cell
            repository.set_label(session, prediction_id, int(rng.integers(0, 10)))
        for prediction_id in ids[3:40:4]:  # unlabelled until now
            repository.set_label(session, prediction_id, 7)
    assert_summary_is_exact(db_url)

    with session_scope(db_url) as session:
        for prediction_id in ids[40:60]:
            repository.clear_label(session, prediction_id)
        for prediction_id in ids[60:80]:
            repository.delete_prediction(session, prediction_id)
    assert_summary_is_exact(db_url)

    # What only an administrator does: move rows to another day, change what was predicted.
    with session_scope(db_url) as session:
        moved = sa.update(Prediction).where(Prediction.id.in_(ids[80:100]))
        session.execute(moved.values(created_at=DAY + timedelta(days=4, hours=1)))  # a new day
        session.execute(
            sa.update(Prediction)
            .where(Prediction.id.in_(ids[100:110]))
            .values(predicted_digit=(Prediction.predicted_digit + 1) % 10, confidence=0.5)
        )
        session.execute(sa.delete(Prediction).where(Prediction.id.in_(ids[110:120])))
        flipped = sa.update(Prediction).where(Prediction.id.in_(ids[120:140]))
        session.execute(flipped.values(unsure=~Prediction.unsure))  # only `unsure` changes
    assert_summary_is_exact(db_url)


def test_the_last_row_of_a_cell_takes_the_cell_with_it(db_url: str) -> None:
    with session_scope(db_url) as session:
        only = repository.store(session, make_submission(label=3, confidence=0.9))
        assert list(summary(session).values()) == [(1, pytest.approx(0.9), 0)]
        repository.set_label(session, only, 5)
        assert [key[2] for key in summary(session)] == [5]
        repository.delete_prediction(session, only)
        assert summary(session) == {}


def test_upgrade_summarises_the_predictions_already_there(db_url: str) -> None:
    migrate.downgrade(db_url, "0002")
    with session_scope(db_url) as session:  # written by a digitlab from before 0003
        version = register(session)
        for digit, label, confidence in [(1, 1, 0.95), (1, 7, 0.95), (2, None, 0.3), (4, 4, 1.0)]:
            values = make_submission(predicted_digit=digit, confidence=confidence)
            session.execute(
                sa.insert(Prediction).values(
                    model_version_id=version,
                    predicted_digit=digit,
                    confidence=confidence,
                    probabilities=values.probabilities,
                    image=values.image,
                    source="canvas",
                    client_request_id=f"old-{digit}-{label}",
                    true_label=label,
                    labeled_at=None if label is None else DAY,
                    unsure=confidence < 0.5 or label == 7,
                )
            )
    migrate.upgrade_to_head(db_url)
    assert_summary_is_exact(db_url)
    with session_scope(db_url) as session:
        cells = summary(session).values()
        assert sum(n for n, _, _ in cells) == 3 and sum(unsure for *_, unsure in cells) == 1


def test_0006_counts_unsure_answers_already_there_and_its_downgrade_keeps_0003s(
    db_url: str,
) -> None:
    populate(db_url, n=60, seed=4)
    migrate.downgrade(db_url, "0005")
    with session_scope(db_url) as session:
        assert "unsure_n" not in {
            c["name"] for c in sa.inspect(session.bind).get_columns("prediction_stats")
        }
        repository.store(session, make_submission(label=2, confidence=0.3, unsure=True))
        cells = {key: (n, total) for key, (n, total, _) in recomputed(session).items()}
        rows = session.execute(sa.text("SELECT * FROM prediction_stats")).mappings().all()
        kept = {
            tuple(
                r[k]
                for k in (
                    "day",
                    "model_version_id",
                    "true_label",
                    "predicted_digit",
                    "confidence_bin",
                )
            ): r["n"]
            for r in rows
        }
    assert {key: n for key, (n, _) in cells.items()} == {
        (date.fromisoformat(str(k[0])), *k[1:]): n for k, n in kept.items()
    }
    migrate.upgrade_to_head(db_url)
    assert_summary_is_exact(db_url)


FILTERS = [
    {},
    {"model_version_id": 0},  # replaced by model-b's id
    {"since": date(2026, 3, 10), "until": date(2026, 3, 12)},
    {"model_version_id": 0, "since": DAY + timedelta(days=2)},
]


STATISTICS = [
    analytics.accuracy_by_digit,
    analytics.confusion_matrix,
    analytics.confidence_by_outcome,
    analytics.calibration_bins,
    analytics.accuracy_over_time,
]


@pytest.mark.parametrize("filters", FILTERS)
def test_summary_and_rows_give_the_same_statistics(db_url: str, filters: dict[str, Any]) -> None:
    data = populate(db_url, seed=1)
    with session_scope(db_url) as session:
        repository.set_label(session, data["ids"][0], 9)
        repository.delete_prediction(session, data["ids"][1])
    if "model_version_id" in filters:
        filters = filters | {"model_version_id": data["models"][1]}
    summary, rows = Filters(**filters), Filters(**filters, from_summary=False)
    with session_scope(db_url) as session:
        for statistic in [*STATISTICS, analytics.accuracy_by_model]:
            from_summary, from_rows = statistic(session, summary), statistic(session, rows)
            assert from_rows.to_numpy().size > 0, statistic.__name__
            pd.testing.assert_frame_equal(from_summary, from_rows, check_dtype=False)
        now = DAY + timedelta(days=3, hours=5)
        kpis = analytics.kpis(session, summary, now=now)
        assert kpis == analytics.kpis(session, rows, now=now)
        assert kpis.labelled > 0
        unsure = analytics.unsure_report(session, summary)
        assert unsure == analytics.unsure_report(session, rows)
        assert 0 < unsure.unsure < unsure.labelled == kpis.labelled


def test_a_time_of_day_filter_counts_from_the_rows(db_url: str) -> None:
    """The summary holds whole days; since/until inside a day must still count exactly."""
    populate(db_url, seed=2)
    since, until = DAY + timedelta(hours=30), DAY + timedelta(hours=61, minutes=30)
    with session_scope(db_url) as session:
        rows = repository.list_predictions(session, Filters(since=since, until=until), limit=None)
        kpis = analytics.kpis(session, Filters(since=since, until=until), now=until)
        digits = analytics.accuracy_by_digit(session, Filters(since=since, until=until))
    labelled = rows[rows["true_label"].notna()]
    assert kpis.predictions == len(rows)
    assert kpis.labelled == len(labelled) == int(digits["n"].sum())
    assert kpis.correct == int((labelled["true_label"] == labelled["predicted_digit"]).sum())
    last_day = labelled[labelled["created_at"] >= until - timedelta(hours=24)]
    assert kpis.labelled_last_24h == len(last_day)


def test_the_dashboard_reads_the_summary(db_url: str) -> None:
    """Whole-day filters are answered from prediction_stats, not by scanning predictions."""
    populate(db_url, n=40, seed=3)
    with session_scope(db_url) as session:
        expected = analytics.confusion_matrix(session, Filters(since=date(2026, 3, 10)))
        session.execute(sa.text("UPDATE prediction_stats SET n = n * 1000"))
        inflated = analytics.confusion_matrix(session, Filters(since=date(2026, 3, 10)))
        from_rows = Filters(since=date(2026, 3, 10), from_summary=False)
        rows = analytics.confusion_matrix(session, from_rows)
    assert int(inflated.to_numpy().sum()) == 1000 * int(expected.to_numpy().sum()) > 0
    pd.testing.assert_frame_equal(rows, expected)  # from_summary=False counts the rows
