"""The repository API as the app uses it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from db_test_data import D1, D2, SEED_ROWS

from db import repository
from db.engine import session_scope
from db.filters import Filters
from db.submission import Drawing
from testing_support.feedback import make_submission, model_identity, register, sha_of


def test_register_model_version_is_idempotent_by_weights_hash(db_url: str) -> None:
    with session_scope(db_url) as session:
        first = register(session, "resnet")
        other = register(session, "mlp")
    with session_scope(db_url) as session:
        again = repository.register_model_version(
            session,
            model_identity(
                "renamed",
                architecture="resnet",
                weights_sha256=sha_of("resnet").upper(),  # same hash, other spelling
                parameter_count=1,
                test_accuracy=None,
                card={},
            ),
        )
        versions = repository.list_model_versions(session)
    assert again == first != other
    assert sorted(versions["id"]) == sorted([first, other])
    kept = versions.set_index("id").loc[first]
    assert kept["name"] == "resnet" and kept["card"] == {"name": "resnet", "epochs": 1}
    assert kept["weights_sha256"] == sha_of("resnet")


def test_store_round_trips_every_field(db_url: str) -> None:
    image = np.arange(784, dtype=np.uint8).reshape(28, 28)
    submission = make_submission(
        "req-1", predicted_digit=7, confidence=0.75, source="upload", unsure=True, image=image
    )
    before = datetime.now(UTC) - timedelta(seconds=5)
    with session_scope(db_url) as session:
        prediction_id = repository.store(session, submission)
    with session_scope(db_url) as session:
        row = repository.get_prediction(session, prediction_id)

    assert row.id == prediction_id and row.client_request_id == "req-1"
    assert row.model_name == "cnn-test"
    assert row.predicted_digit == 7 and row.confidence == 0.75
    assert row.probabilities == pytest.approx(submission.probabilities)
    assert row.image == image.tobytes() == submission.image
    assert np.array_equal(repository.image_as_array(row.image), image)
    assert row.source == "upload" and row.unsure is True
    assert row.latency_ms == 4.2 and row.session_id == "browser-1"
    assert row.true_label is None and row.labeled_at is None
    assert (row.strokes, row.canvas_width, row.canvas_height) == (None, None, None)
    assert row.created_at.tzinfo is not None
    assert before <= row.created_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_store_keeps_the_drawing_and_the_time_given(db_url: str) -> None:
    strokes = [[[10, 20.5], [11, 22]], [[140, 30], [141, 250], [139.25, 251]]]
    made = datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    drawing = Drawing(strokes=strokes, canvas_width=280, canvas_height=200)
    submission = make_submission("drawn", label=4, drawing=drawing, created_at=made)
    with session_scope(db_url) as session:
        row = repository.get_prediction(session, repository.store(session, submission))
    assert row.strokes == [[[10.0, 20.5], [11.0, 22.0]], [[140, 30], [141, 250], [139.25, 251]]]
    assert (row.canvas_width, row.canvas_height) == (280, 200)
    assert row.created_at == made == row.labeled_at and row.true_label == 4


def test_a_drawing_labelled_as_it_is_stored_is_labelled_by_the_databases_clock(
    db_url: str,
) -> None:
    with session_scope(db_url) as session:
        row_id = repository.store(session, make_submission("at once", label=2))
        row = repository.get_prediction(session, row_id)
    assert row.labeled_at == row.created_at and row.true_label == 2


def test_same_client_request_id_twice_makes_one_row(db_url: str) -> None:
    submission = make_submission("double-click", label=2)
    with session_scope(db_url) as session:
        first = repository.store(session, submission)
    with session_scope(db_url) as session:
        second = repository.store(session, submission)
        third = repository.store(session, submission)
        everything = repository.list_predictions(session, limit=None)
    assert first == second == third
    assert list(everything["id"]) == [first]
    assert list(everything["true_label"]) == [2]


def test_a_labelled_resubmission_labels_the_stored_row(db_url: str) -> None:
    """Stored unlabelled (the canvas was cleared), labelled later: one row, the new label."""
    unlabelled = make_submission("cleared")
    with session_scope(db_url) as session:
        first = repository.store(session, unlabelled)
    with session_scope(db_url) as session:
        assert repository.store(session, unlabelled.labelled(6)) == first
        labelled = repository.get_prediction(session, first)
        assert repository.store(session, unlabelled) == first  # no label: keeps the label
        assert repository.store(session, unlabelled.labelled(5)) == first  # a correction
        corrected = repository.get_prediction(session, first)
    assert labelled.true_label == 6 and labelled.labeled_at is not None
    assert corrected.true_label == 5 and corrected.labeled_at >= labelled.labeled_at
    with session_scope(db_url) as session:
        assert len(repository.list_predictions(session, limit=None)) == 1


def test_without_a_request_id_each_call_is_a_new_row(
    make_prediction: Callable[..., int], db_url: str
) -> None:
    ids = {make_prediction(), make_prediction()}
    with session_scope(db_url) as session:
        assert len(repository.list_predictions(session)) == 2 == len(ids)


def test_a_failed_call_leaves_the_transaction_usable(db_url: str) -> None:
    """One bad call inside a unit of work does not poison the good ones before it."""
    with session_scope(db_url) as session:
        good = repository.store(session, make_submission())
        with pytest.raises(ValueError):
            repository.set_label(session, good, 12)
    with session_scope(db_url) as session:
        assert list(repository.list_predictions(session)["id"]) == [good]


def test_label_set_change_and_clear(db_url: str, make_prediction: Callable[..., int]) -> None:
    prediction_id = make_prediction(predicted_digit=4)
    with session_scope(db_url) as session:
        repository.set_label(session, prediction_id, 9)
    with session_scope(db_url) as session:
        first = repository.get_prediction(session, prediction_id)
        repository.set_label(session, prediction_id, np.int64(4))  # numpy ints are fine
    with session_scope(db_url) as session:
        changed = repository.get_prediction(session, prediction_id)
        repository.clear_label(session, prediction_id)
    with session_scope(db_url) as session:
        cleared = repository.get_prediction(session, prediction_id)
    assert first.true_label == 9 and first.labeled_at is not None
    assert changed.true_label == 4 and changed.labeled_at >= first.labeled_at
    assert cleared.true_label is None and cleared.labeled_at is None


def test_label_given_with_the_prediction(db_url: str, make_prediction: Callable[..., int]) -> None:
    prediction_id = make_prediction(true_label=2)
    with session_scope(db_url) as session:
        row = repository.get_prediction(session, prediction_id)
    assert row.true_label == 2 and row.labeled_at is not None


def test_delete_prediction(db_url: str, make_prediction: Callable[..., int]) -> None:
    keep, drop = make_prediction(), make_prediction()
    with session_scope(db_url) as session:
        repository.delete_prediction(session, drop)
    with session_scope(db_url) as session:
        assert list(repository.list_predictions(session)["id"]) == [keep]
        with pytest.raises(ValueError, match=f"no prediction with id {drop}"):
            repository.delete_prediction(session, drop)
        with pytest.raises(ValueError, match=f"no prediction with id {drop}"):
            repository.get_prediction(session, drop)


def _ids(frame: object) -> list[int]:
    return [int(i) for i in frame["id"]]  # type: ignore[index]


def test_list_predictions_filters(seeded: dict) -> None:
    ids, models = seeded["ids"], seeded["models"]
    row = {n + 1: ids[n] for n in range(len(ids))}  # row numbers as in SEED_ROWS' comments
    with session_scope(seeded["url"]) as session:
        every = repository.list_predictions(session, limit=None)
        labelled = repository.list_predictions(session, status="labelled")
        unlabelled = repository.list_predictions(session, status="unlabelled")
        wrong = repository.list_predictions(session, status="wrong")
        wrong_b = repository.list_predictions(
            session, Filters(model_version_id=models["B"]), status="wrong"
        )
        day_two = repository.list_predictions(session, Filters(since=date(2026, 3, 10)))
        day_one = repository.list_predictions(session, Filters(since=D1, until=D2))
        newest_two = repository.list_predictions(session, limit=2)

    assert len(every) == len(SEED_ROWS) == 11
    assert sorted(_ids(labelled)) == sorted(row[n] for n in (1, 2, 3, 4, 5, 6, 7, 8, 11))
    assert sorted(_ids(unlabelled)) == sorted([row[9], row[10]])
    assert sorted(_ids(wrong)) == sorted(row[n] for n in (2, 4, 7, 11))
    assert _ids(wrong_b) == [row[7]]
    assert sorted(_ids(day_two)) == sorted(row[n] for n in (4, 5, 6, 7, 8, 9, 11))
    # Row 3 was made at 00:30+01:00 on March 10th, which is still March 9th in UTC.
    assert sorted(_ids(day_one)) == sorted(row[n] for n in (1, 2, 3, 10))
    assert _ids(newest_two) == [row[11], row[9]]  # newest first
    assert list(every["created_at"]) == sorted(every["created_at"], reverse=True)
    assert str(every["true_label"].dtype) == "Int64"
    assert every["image"].map(len).eq(784).all()


def test_list_predictions_of_unsure_answers_labelled_or_not(db_url: str) -> None:
    flags = [(True, None), (False, 3), (True, 3), (False, None)]
    with session_scope(db_url) as session:
        ids = [
            repository.store(session, make_submission(label=label, unsure=unsure))
            for unsure, label in flags
        ]
        unsure = repository.list_predictions(session, status="unsure")
    assert sorted(_ids(unsure)) == [ids[0], ids[2]]
    assert unsure["unsure"].all()


def test_list_predictions_has_its_columns_even_when_empty(db_url: str) -> None:
    with session_scope(db_url) as session:
        frame = repository.list_predictions(session, status="wrong")
    assert frame.empty and list(frame.columns) == list(repository.PREDICTION_COLUMNS)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"status": "right"}, "status must be one of all, labelled, unlabelled, wrong"),
        ({"limit": 0}, "limit must be at least 1, got 0"),
    ],
)
def test_list_predictions_explains_bad_arguments(
    db_url: str, arguments: dict, message: str
) -> None:
    with session_scope(db_url) as session, pytest.raises(ValueError) as caught:
        repository.list_predictions(session, **arguments)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"since": D2, "until": D1}, "since (2026-03-10T00:00:00+00:00) must be before until"),
        ({"since": "yesterday"}, "since must be a date or a datetime"),
        ({"model_version_id": "A"}, "model_version_id must be a whole number"),
    ],
)
def test_bad_filters_are_refused_when_made(arguments: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Filters(**arguments)
    assert message in str(caught.value)


def test_racing_duplicate_submissions_make_one_row(db_url: str, model_version_id: int) -> None:
    """Four requests with one client_request_id at the same moment: one row, one id."""
    submission = make_submission("raced")
    barrier = threading.Barrier(4)
    ids: list[int] = []

    def submit() -> None:
        with session_scope(db_url) as session:
            barrier.wait()
            ids.append(repository.store(session, submission))

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with session_scope(db_url) as session:
        stored = repository.list_predictions(session, limit=None)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert list(stored["id"]) == ids[:1]
