"""The metrics a model card records, counted on a handful of hand-made answers."""

from __future__ import annotations

import numpy as np

from model.evaluate import SetMetrics, evaluate_logits


def test_each_figure_counts_what_its_name_says() -> None:
    labels = np.array([0, 0, 1, 2, 3])
    logits = np.zeros((5, 10))
    logits[0, 0] = 10  # right and sure
    logits[1, 1] = 0.5  # wrong, and unsure by its confidence
    logits[2, 1] = 10  # right and sure
    logits[3, 2] = 10  # right, but unsure: the detector calls it novel
    logits[4, 5] = 10  # wrong and sure
    novel = np.array([False, False, False, True, False])

    metrics = evaluate_logits(logits, labels, temperature=1.0, unsure_threshold=0.5, novel=novel)

    assert isinstance(metrics, SetMetrics) and metrics.n == 5
    assert metrics.accuracy == 3 / 5
    assert metrics.per_digit_accuracy == (0.5, 1.0, 1.0, 0.0, *[None] * 6)
    assert metrics.unsure_share == 2 / 5
    assert metrics.accuracy_when_sure == 2 / 3  # images 0, 2 and 4
    assert metrics.errors_flagged_unsure == 1 / 2  # image 1 of the errors 1 and 4
    expected = np.zeros((10, 10), dtype=int)
    for true, predicted in [(0, 0), (0, 1), (1, 1), (2, 2), (3, 5)]:
        expected[true, predicted] += 1
    assert metrics.confusion_matrix == tuple(map(tuple, expected.tolist()))
    assert metrics.ece_after == metrics.ece_before > 0  # temperature 1 changes nothing


def test_figures_that_cannot_be_counted_are_none() -> None:
    labels = np.array([4, 4])
    logits = np.zeros((2, 10))
    logits[:, 4] = 10
    every_one_novel = evaluate_logits(logits, labels, 1.0, 0.5, novel=np.array([True, True]))
    assert every_one_novel.accuracy_when_sure is None  # nothing was answered sure
    assert every_one_novel.errors_flagged_unsure is None  # nothing was wrong
    assert evaluate_logits(logits, labels, 1.0, 0.5).unsure_share == 0
