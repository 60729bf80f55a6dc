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
from db_test_data import one_hot_ish, prediction_kwargs

from db import repository
from db.engine import get_engine, session_scope
from db.schema import Prediction


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
        ({"model_version_id": 999}, "no model version with id 999"),
    ],
)
def test_repository_explains_bad_input_and_writes_nothing(
    db_url: str, model_version_id: int, overrides: dict, message: str
) -> None:
    with pytest.raises(ValueError) as caught, session_scope(db_url) as session:
        repository.log_prediction(session, **(prediction_kwargs(model_version_id) | overrides))
    assert message in str(caught.value)
    assert _count(db_url) == 0


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
def test_model_version_validation(db_url: str, field: str, value: Any, message: str) -> None:
    arguments: dict[str, Any] = {
        "name": "cnn",
        "architecture": "cnn",
        "weights_sha256": "0" * 64,
        "parameter_count": 10,
        "test_accuracy": 0.98,
        "card": {},
    }
    expected = pytest.raises(ValueError, match=message.replace("(", r"\("))
    with expected, session_scope(db_url) as session:
        repository.register_model_version(session, **(arguments | {field: value}))
    with get_engine(db_url).connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM model_versions")).scalar() == 0


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
    assert row["true_label"] is None and row["labeled_at"] is None


def test_set_label_on_unknown_id_is_a_value_error(db_url: str) -> None:
    expected = pytest.raises(ValueError, match="no prediction with id 12345")
    with expected, session_scope(db_url) as session:
        repository.set_label(session, 12345, 4)
