"""Offline distillation: committed models' reading of the training images as targets."""

from __future__ import annotations

import numpy as np
import pytest

from model.card import sha256_file
from model.checkpoint import ModelLoadError
from model.config import TrainConfig
from model.data import Mnist
from model.distil import read_by_teachers
from model.predictor import Predictor, resolve_model_path
from model.train import predict_logits, train

TEACHERS = ("cnn", "lenet5")


def test_teachers_read_with_their_calibrated_mean(mnist: Mnist) -> None:
    images, labels = mnist.test_images[:500], mnist.test_labels[:500]
    reading = read_by_teachers(TEACHERS, images)
    predictors = [Predictor.load(resolve_model_path(name), inference="eager") for name in TEACHERS]
    expected = np.mean([p.predict_batch(images) for p in predictors], axis=0)
    assert reading.probabilities.shape == (500, 10) and reading.probabilities.dtype == np.float32
    np.testing.assert_allclose(reading.probabilities, expected, atol=1e-6)
    np.testing.assert_allclose(reading.probabilities.sum(1), 1, atol=1e-5)
    assert (reading.probabilities.argmax(1) == labels).mean() >= 0.98
    assert reading.weights_sha256 == {
        name: sha256_file(resolve_model_path(name)) for name in TEACHERS
    }


def test_a_missing_teacher_says_what_to_run() -> None:
    with pytest.raises(ModelLoadError, match=r"'no-such-model'.*--teachers none"):
        read_by_teachers(("cnn", "no-such-model"), np.zeros((2, 28, 28), np.uint8))


def test_teacher_weight_is_a_share_of_the_target() -> None:
    with pytest.raises(ValueError, match=r"teachers' share of the target, from 0 to 1; got 1\.5"):
        TrainConfig.for_arch("lenet5", teacher_weight=1.5)
    assert TrainConfig.for_recipe("default", device="cpu").teachers == ()  # labels alone


def held_out_accuracy(mnist: Mnist, **overrides) -> float:
    """One epoch of LeNet-5 on 2,000 images whose labels are all wrong (each digit + 1),
    read on 1,000 other images against their true labels."""
    x, y = mnist.train_images, mnist.train_labels
    config = TrainConfig.for_arch("lenet5", epochs=1, batch_size=32, device="cpu", **overrides)
    result = train(config, x[:2000], (y[:2000] + 1) % 10, x[-1000:], y[-1000:], progress=False)
    return float((predict_logits(result.net, x[-1000:]).argmax(1).numpy() == y[-1000:]).mean())


def test_the_target_is_the_teachers_reading_to_its_weight(mnist: Mnist) -> None:
    """All teacher: the network learns the digits despite wrong labels; no teacher: it
    learns the wrong labels; six tenths teacher: the teachers' reading still wins."""
    assert held_out_accuracy(mnist, teachers=TEACHERS, teacher_weight=1.0) >= 0.80
    assert held_out_accuracy(mnist) <= 0.10
    assert held_out_accuracy(mnist, teachers=TEACHERS, teacher_weight=0.6) >= 0.60
