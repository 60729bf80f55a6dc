"""Temperature scaling and the calibration error on data with known answers."""

from __future__ import annotations

import numpy as np
import torch

from model.calibration import (
    expected_calibration_error,
    fit_temperature,
    softmax,
)


def test_recovers_the_temperature_that_generated_the_labels() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (20_000, 10))
    true_t = 2.5
    probs = softmax(logits, true_t)
    labels = np.array([rng.choice(10, p=p) for p in probs])
    fitted = fit_temperature(torch.from_numpy(logits), torch.from_numpy(labels))
    assert abs(fitted - true_t) < 0.1
    assert expected_calibration_error(probs, labels) < 0.02
    assert expected_calibration_error(softmax(logits), labels) > 0.1  # over-confident raw


def test_ece_of_a_confident_wrong_model_is_its_confidence() -> None:
    probs = np.full((100, 10), 0.01 / 9)
    probs[:, 3] = 0.99
    assert abs(expected_calibration_error(probs, np.zeros(100, dtype=int)) - 0.99) < 1e-9
