"""Test-set metrics of a trained network: accuracy, per digit, calibration, unsure.

Everything is computed from one array of logits so that training (which writes the
card) and `run_model.py evaluate` (which checks a saved model) agree by
construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.calibration import expected_calibration_error, softmax


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10 x 10 counts: rows are true labels, columns predicted digits."""
    return np.bincount(labels.astype(np.int64) * 10 + predicted, minlength=100).reshape(10, 10)


@dataclass(frozen=True)
class SetMetrics:
    """What one labelled set says of a network: the figures a model card records."""

    n: int
    accuracy: float
    per_digit_accuracy: tuple[float | None, ...]  # None: the digit is not in the set
    ece_before: float  # calibration error of the raw softmax
    ece_after: float  # and at the fitted temperature
    unsure_share: float
    accuracy_when_sure: float | None  # None: everything was unsure
    errors_flagged_unsure: float | None  # None: no errors
    confusion_matrix: tuple[tuple[int, ...], ...]  # rows true labels, columns predicted


def evaluate_logits(
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float,
    unsure_threshold: float,
    novel: np.ndarray | None = None,
) -> SetMetrics:
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
    per_digit = tuple(
        float(correct[labels == d].mean()) if (labels == d).any() else None for d in range(10)
    )
    return SetMetrics(
        n=len(labels),
        accuracy=float(correct.mean()),
        per_digit_accuracy=per_digit,
        ece_before=expected_calibration_error(raw, labels),
        ece_after=expected_calibration_error(calibrated, labels),
        unsure_share=float(unsure.mean()),
        accuracy_when_sure=float(correct[~unsure].mean()) if (~unsure).any() else None,
        errors_flagged_unsure=float(unsure[~correct].mean()) if (~correct).any() else None,
        confusion_matrix=tuple(map(tuple, confusion_matrix(labels, predicted).tolist())),
    )
