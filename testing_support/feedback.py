"""Valid feedback-store values for tests and benchmarks: models, images, submissions."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from db import repository
from db.submission import ModelIdentity, Submission


def sha_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def one_hot_ish(digit: int, confidence: float) -> list[float]:
    """Ten probabilities with `confidence` on `digit`, the rest shared evenly."""
    rest = (1.0 - confidence) / 9
    return [confidence if d == digit else rest for d in range(10)]


def bar_image(position: int = 13) -> np.ndarray:
    """A 28x28 uint8 picture: a vertical bar two pixels wide starting at column `position`."""
    image = np.zeros((28, 28), dtype=np.uint8)
    image[4:24, position : position + 2] = 255
    return image


def model_identity(name: str = "cnn-test", **overrides: Any) -> ModelIdentity:
    """A model version whose weights' SHA-256 follows from its name."""
    values: dict[str, Any] = {
        "name": name,
        "architecture": "cnn",
        "weights_sha256": sha_of(name),
        "parameter_count": 1234,
        "test_accuracy": 0.99,
        "card": {"name": name, "epochs": 1},
    }
    return ModelIdentity(**(values | overrides))


def register(session: Any, name: str = "cnn-test") -> int:
    return repository.register_model_version(session, model_identity(name))


def make_submission(
    request_id: str | None = None,
    label: int | None = None,
    model_name: str = "cnn-test",
    **overrides: Any,
) -> Submission:
    """A valid Submission as the Draw page builds one; unlabelled unless `label` is given."""
    digit = overrides.pop("predicted_digit", 3)
    confidence = overrides.pop("confidence", 0.9)
    values: dict[str, Any] = {
        "model": model_identity(model_name),
        "predicted_digit": digit,
        "confidence": confidence,
        "probabilities": one_hot_ish(digit, confidence),
        "image": bar_image(),
        "latency_ms": 4.2,
        "session_id": "browser-1",
        "true_label": label,
    }
    if request_id is not None:
        values["client_request_id"] = request_id
    return Submission(**(values | overrides))
