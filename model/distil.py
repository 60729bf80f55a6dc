"""Offline distillation: what other committed models read, as part of the training target.

The committed models err on different real digits, so the mean of their calibrated
probabilities carries what a label does not (how much a drawing looks like another
digit). They read each training image once, clean, before training; the target is
then `TrainConfig.teacher_weight` of their mean and the rest the label (README
"Models" has the evidence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.checkpoint import ModelLoadError
from model.predictor import Predictor, resolve_model_path


@dataclass(frozen=True)
class TeacherReading:
    probabilities: np.ndarray  # N x 10 float32: the teachers' mean, image by image
    weights_sha256: dict[str, str]  # teacher name -> the weights it read with


def read_by_teachers(teachers: tuple[str, ...], images: np.ndarray) -> TeacherReading:
    """The mean calibrated probabilities of the saved models named `teachers` on
    `images` (N x 28 x 28 uint8); a teacher that cannot load says what to run."""
    predictors = {name: _teacher(name) for name in teachers}
    readings = [predictor.predict_batch(images) for predictor in predictors.values()]
    return TeacherReading(
        probabilities=np.mean(readings, axis=0, dtype=np.float64).astype(np.float32),
        weights_sha256={name: p.card.weights_sha256 for name, p in predictors.items()},
    )


def _teacher(name: str) -> Predictor:
    try:
        return Predictor.load(resolve_model_path(name), inference="eager")
    except ModelLoadError as err:
        raise ModelLoadError(
            f"training distils from the saved model {name!r}, which cannot be used: {err}; "
            "or train without teachers (--teachers none)"
        ) from err
