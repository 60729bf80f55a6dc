"""Mislabelled drawings come first in the suspicious-label ranking (cleanlab, a real model)."""

from __future__ import annotations

import numpy as np
import pytest

from model.data import Mnist
from model.label_issues import suspicious_drawings, suspicious_label_ranking
from model.predictor import Predictor
from settings import REPO_ROOT


def test_mislabelled_digits_are_ranked_first(mnist: Mnist) -> None:
    images, labels = mnist.test_images[:600], mnist.test_labels[:600].astype(np.int64)
    predictor = Predictor.load(REPO_ROOT / "saved_models" / "lenet5.pt", inference="eager")
    rng = np.random.default_rng(0)
    wrong = rng.choice(len(labels), size=12, replace=False)
    given = labels.copy()
    given[wrong] = (labels[wrong] + rng.integers(1, 10, size=12)) % 10  # a slip of the finger
    ranked = suspicious_drawings(predictor, images, given)
    assert set(ranked[:12]) == set(wrong)  # every slip before any honest label
    assert len(ranked) < 30  # and few honest labels called suspicious at all
    clean = suspicious_drawings(predictor, images, labels)
    assert len(clean) < 15  # the model's own doubts on MNIST's labels, not more


def test_ranking_follows_the_probability_of_the_label() -> None:
    probs = np.full((200, 10), 0.01)
    labels = np.arange(200) % 10
    probs[np.arange(200), labels] = 0.91
    given = labels.copy()
    given[[7, 40]] = [3, 5]  # the model gives label 5 to drawing 40 less than 3 to drawing 7
    probs[7] = 0.005
    probs[7, [3, 7]] = [0.04, 0.92]
    ranked = suspicious_label_ranking(probs, given)
    assert list(ranked) == [40, 7]


def test_bad_input_says_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="N x 10"):
        suspicious_label_ranking(np.ones((3, 9)) / 9, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="0-9"):
        suspicious_label_ranking(np.ones((1, 10)) / 10, np.array([11]))
    assert suspicious_label_ranking(np.zeros((0, 10)), np.zeros(0)).size == 0
