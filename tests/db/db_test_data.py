"""Test data for the database tests: valid arguments, and a small hand-checked data set."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

from db import repository


def sha_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def one_hot_ish(digit: int, confidence: float) -> list[float]:
    """Ten probabilities with `confidence` on `digit`, the rest shared evenly."""
    rest = (1.0 - confidence) / 9
    return [confidence if d == digit else rest for d in range(10)]


def register(session: Any, name: str = "cnn-test") -> int:
    return repository.register_model_version(
        session,
        name=name,
        architecture="cnn",
        weights_sha256=sha_of(name),
        parameter_count=1234,
        test_accuracy=0.99,
        card={"name": name, "epochs": 1},
    )


def prediction_kwargs(model_version_id: int, **overrides: Any) -> dict[str, Any]:
    digit = overrides.pop("predicted_digit", 3)
    confidence = overrides.pop("confidence", 0.9)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 13:15] = 255
    kwargs: dict[str, Any] = {
        "model_version_id": model_version_id,
        "predicted_digit": digit,
        "confidence": confidence,
        "probabilities": one_hot_ish(digit, confidence),
        "image": image,
        "source": "canvas",
        "latency_ms": 4.2,
        "session_id": "browser-1",
    }
    return kwargs | overrides


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


def make_submission(request_id: str, label: int | None = 3, **overrides: Any) -> Any:
    """A valid `db.outbox.Submission` as the Draw page builds one (model "cnn-test")."""
    from db.outbox import Submission

    digit = overrides.pop("predicted_digit", 3)
    confidence = overrides.pop("confidence", 0.9)
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, 13:15] = 255
    values: dict[str, Any] = {
        "client_request_id": request_id,
        "model_name": "cnn-test",
        "architecture": "cnn",
        "weights_sha256": sha_of("cnn-test"),
        "parameter_count": 1234,
        "test_accuracy": 0.99,
        "card": {"name": "cnn-test", "epochs": 1},
        "predicted_digit": digit,
        "confidence": confidence,
        "probabilities": one_hot_ish(digit, confidence),
        "image": image.tobytes(),
        "source": "canvas",
        "unsure": False,
        "latency_ms": 4.2,
        "session_id": "browser-1",
        "true_label": label,
    }
    return Submission(**(values | overrides))
