"""Test-set metrics of a trained network: accuracy, per digit, calibration, unsure.

Everything is computed from one array of logits so that training (which writes the
card) and `run_model.py evaluate` (which checks a saved model) agree by
construction.
"""

from __future__ import annotations

import numpy as np

from model.calibration import expected_calibration_error, softmax


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10 x 10 counts: rows are true labels, columns predicted digits."""
    return np.bincount(labels.astype(np.int64) * 10 + predicted, minlength=100).reshape(10, 10)


def evaluate_logits(
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float,
    unsure_threshold: float,
    novel: np.ndarray | None = None,
) -> dict:
    """The metrics the model card records for one labelled set.

    `novel` marks the images the novelty detector flags (`model.novelty`); they count
    as unsure whatever their confidence.
    """
    labels = labels.astype(np.int64)
    raw = softmax(logits)
    calibrated = softmax(logits, temperature)
    predicted = calibrated.argmax(axis=1)
    correct = predicted == labels
    unsure = calibrated.max(axis=1) < unsure_threshold
    if novel is not None:
        unsure |= novel
    per_digit = [
        float(correct[labels == d].mean()) if (labels == d).any() else None for d in range(10)
    ]
    return {
        "n": len(labels),
        "accuracy": float(correct.mean()),
        "per_digit_accuracy": per_digit,
        "ece_before": expected_calibration_error(raw, labels),
        "ece_after": expected_calibration_error(calibrated, labels),
        "unsure_share": float(unsure.mean()),
        "accuracy_when_sure": float(correct[~unsure].mean()) if (~unsure).any() else None,
        "errors_flagged_unsure": float(unsure[~correct].mean()) if (~correct).any() else None,
        "confusion_matrix": confusion_matrix(labels, predicted).tolist(),
    }
