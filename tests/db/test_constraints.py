"""Bad values are refused twice: by Python with a sentence, and by the database itself.

The database checks are exercised with raw INSERTs that bypass the repository, as a
buggy client or a hand-written SQL statement would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from db import repository
from db.engine import get_engine, session_scope
from db.schema import Prediction
from db.submission import Drawing
from testing_support.feedback import make_submission, model_identity, one_hot_ish


def _count(url: str) -> int:
    with get_engine(url).connect() as connection:
        return connection.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar_one()


def _raw_row(model_version_id: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model_version_id": model_version_id,
        "predicted_digit": 3,
        "confidence": 0.9,
        "probabilities": one_hot_ish(3, 0.9),
        "image": bytes(784),
        "source": "canvas",
        "client_request_id": "raw-1",
    }
    return row | overrides


@pytest.mark.parametrize(
    "overrides",
    [
        {"predicted_digit": 10},
        {"predicted_digit": -1},
        {"true_label": 10, "labeled_at": sa.func.current_timestamp()},
        {"true_label": -1, "labeled_at": sa.func.current_timestamp()},
        {"confidence": 1.5},
        {"confidence": -0.01},
        {"image": bytes(783)},
        {"image": bytes(785)},
        {"probabilities": [0.1] * 9},
        {"source": "camera"},
        {"latency_ms": -1.0},
        {"true_label": 3},  # a label without labeled_at
        {"model_version_id": 999},  # no such model version
    ],
    ids=lambda o: ",".join(f"{k}={str(v)[:12]}" for k, v in o.items()),
)
def test_database_rejects_bad_rows(db_url: str, model_version_id: int, overrides: dict) -> None:
    insert = sa.insert(Prediction).values(**(_raw_row(model_version_id) | overrides))
    with pytest.raises(sa.exc.IntegrityError), get_engine(db_url).begin() as connection:
        connection.execute(insert)
    assert _count(db_url) == 0


def test_database_accepts_the_valid_raw_row(db_url: str, model_version_id: int) -> None:
    """The row the rejections start from is itself fine: each rejection has one cause."""
    with get_engine(db_url).begin() as connection:
        connection.execute(sa.insert(Prediction).values(**_raw_row(model_version_id)))
    assert _count(db_url) == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"predicted_digit": 10}, "predicted_digit must be between 0 and 9, got 10"),
        ({"predicted_digit": 2.0}, "predicted_digit must be a digit from 0 to 9"),
        ({"predicted_digit": True}, "predicted_digit must be a digit from 0 to 9"),
        ({"true_label": -1}, "true_label must be between 0 and 9, got -1"),
        ({"confidence": 1.2}, "confidence must be between 0 and 1, got 1.2"),
        ({"confidence": float("nan")}, "confidence must be between 0 and 1, got nan"),
        ({"image": bytes(783)}, "image must be 784 bytes (a 28x28 uint8 picture), got 783"),
        ({"image": np.zeros((28, 28), np.float32)}, "image array must be uint8"),
        ({"image": np.zeros((27, 28), np.uint8)}, "got 756"),
        ({"probabilities": [0.1] * 9}, "probabilities must have 10 values, got 9"),
        ({"probabilities": [0.2] * 10}, "probabilities must sum to 1, they sum to 2.000000"),
        ({"probabilities": [1.1] + [0.0] * 9}, "probabilities[0] must be between 0 and 1"),
        ({"source": "camera"}, "source must be one of canvas, upload; got 'camera'"),
        ({"latency_ms": -3}, "latency_ms must be zero or more, got -3.0"),
        ({"client_request_id": "x" * 65}, "client_request_id must be at most 64 characters"),
        ({"client_request_id": " "}, "client_request_id must be a non-empty text"),
        ({"unsure": "no"}, "unsure must be True or False"),
        ({"model": "cnn"}, "model must be a ModelIdentity"),
        (
            {
                "source": "upload",
                "drawing": Drawing(strokes=[[[1, 2]]], canvas_width=9, canvas_height=9),
            },
            "only canvas drawings have strokes",
        ),
    ],
)
def test_a_submission_explains_bad_input_when_it_is_made(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        make_submission(**overrides)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("drawing", "message"),
    [
        ({"strokes": []}, "strokes must be a non-empty list of strokes"),
        ({"strokes": [[]]}, "strokes[0] must be a non-empty list of [x, y] points"),
        ({"strokes": [[[1, 2, 3]]]}, "strokes[0] must hold [x, y] pairs of finite numbers"),
        ({"strokes": [[[1, float("inf")]]]}, "strokes[0] must hold [x, y] pairs"),
        ({"strokes": [[["1", 2]]]}, "strokes[0] must hold [x, y] pairs"),
        ({"strokes": [[[0, 0]] * 50_001]}, "strokes must have at most 50000 points"),
        ({"canvas_width": 0}, "canvas_width must be at least 1, got 0"),
        ({"canvas_height": 10_001}, "canvas_height must be at most 10000 pixels"),
    ],
)
def test_a_drawing_explains_bad_strokes_and_sizes(drawing: dict, message: str) -> None:
    values: dict[str, Any] = {"strokes": [[[1, 2], [3, 4]]], "canvas_width": 280}
    with pytest.raises(ValueError) as caught:
        Drawing(**(values | {"canvas_height": 280} | drawing))
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("weights_sha256", "abc", "weights_sha256 must be 64 hexadecimal characters"),
        ("test_accuracy", 99.1, "test_accuracy must be between 0 and 1, got 99.1"),
        ("parameter_count", -5, "parameter_count must be at least 0, got -5"),
        ("name", "  ", "name must be a non-empty text"),
        ("card", {"loss": float("nan")}, "card must be plain JSON"),
        ("card", {"when": object()}, "card must be plain JSON"),
    ],
)
def test_model_version_validation(field: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        model_identity(**{field: value})


@pytest.mark.parametrize(
    ("label", "message"),
    [
        (10, "label must be between 0 and 9, got 10"),
        (-1, "label must be between 0 and 9, got -1"),
        ("7", "label must be a digit from 0 to 9, got '7'"),
        (None, "label must be a digit from 0 to 9, got None"),
    ],
)
def test_set_label_refuses_bad_labels_and_leaves_the_row(
    db_url: str, make_prediction: Callable[..., int], label: Any, message: str
) -> None:
    prediction_id = make_prediction()
    with pytest.raises(ValueError, match=message), session_scope(db_url) as session:
        repository.set_label(session, prediction_id, label)
    with session_scope(db_url) as session:
        row = repository.get_prediction(session, prediction_id)
    assert row.true_label is None and row.labeled_at is None


def test_set_label_on_unknown_id_is_a_value_error(db_url: str) -> None:
    expected = pytest.raises(ValueError, match="no prediction with id 12345")
    with expected, session_scope(db_url) as session:
        repository.set_label(session, 12345, 4)
