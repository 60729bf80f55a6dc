"""The promotion gate's statistics against cases computed by hand and by scipy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from model.compare import (
    HELD_OUT,
    MNIST_TEST,
    ComparisonReport,
    ModelRef,
    SetComparison,
    bootstrap_interval,
    mcnemar_exact,
    promotion_report,
    verdict_for,
)


def test_mcnemar_by_hand_and_against_scipy() -> None:
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)  # all six discordant pairs one way
    assert mcnemar_exact(1, 5) == pytest.approx(2 * 7 / 64)  # P(X <= 1) = (1 + 6) / 64
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence either way
    for b, c in [(2, 11), (17, 9), (40, 61), (0, 1), (120, 80)]:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(c, b + c, 0.5).pvalue, rel=1e-9)


def _pairs(b: int, c: int, agree_right: int, agree_wrong: int = 0) -> tuple[np.ndarray, ...]:
    champion = np.array([True] * b + [False] * c + [True] * agree_right + [False] * agree_wrong)
    challenger = np.array([False] * b + [True] * c + [True] * agree_right + [False] * agree_wrong)
    return champion, challenger


def test_bootstrap_interval_matches_resampling_pairs() -> None:
    champion, challenger = _pairs(b=4, c=20, agree_right=170, agree_wrong=6)
    low, high = bootstrap_interval(champion, challenger, seed=1)
    assert low < 16 / 200 < high and low > 0  # the observed difference, clearly positive
    rng = np.random.default_rng(2)  # the textbook way: resample pair indices
    picks = rng.integers(0, 200, size=(4000, 200))
    naive = challenger[picks].mean(1) - champion[picks].mean(1)
    assert low == pytest.approx(np.percentile(naive, 2.5), abs=0.006)
    assert high == pytest.approx(np.percentile(naive, 97.5), abs=0.006)
    assert bootstrap_interval(champion, challenger, seed=1) == (low, high)  # seeded
    same = bootstrap_interval(champion, champion)
    assert same == (0.0, 0.0)  # no discordant pair: the difference never moves


def test_set_comparison_counts_pairs_and_digits() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    champion = np.array([0, 5, 1, 1, 3, 3])
    challenger = np.array([0, 0, 7, 1, 2, 2])
    result = SetComparison.measure(labels, champion, challenger)
    assert (result.champion_only_correct, result.challenger_only_correct) == (1, 3)
    assert result.champion_accuracy == pytest.approx(3 / 6)
    assert result.challenger_accuracy == pytest.approx(5 / 6)
    assert result.champion_per_digit[:3] == [0.5, 1.0, 0.0]
    assert (
        result.challenger_per_digit[:3] == [1.0, 0.5, 1.0]
        and result.challenger_per_digit[3] is None
    )


def _report(people: tuple[int, int], mnist_drop: int) -> ComparisonReport:
    """A report on 1,000 held-out drawings and 10,000 MNIST digits."""
    b, c = people
    labels = np.zeros(1000, dtype=int)
    champion = np.array([0] * b + [1] * c + [0] * (1000 - b - c))
    challenger = np.array([1] * b + [0] * c + [0] * (1000 - b - c))
    mnist_labels = np.zeros(10_000, dtype=int)
    mnist_challenger = np.array([1] * mnist_drop + [0] * (10_000 - mnist_drop))
    return promotion_report(
        ModelRef("resnet", "saved_models/resnet.pt"),
        ModelRef("resnet-ft", "saved_models/resnet-ft.pt"),
        held_out=(labels, champion, challenger),
        mnist_test=(mnist_labels, mnist_labels, mnist_challenger),
    )


def test_gate_promotes_only_a_significant_gain_that_keeps_mnist() -> None:
    assert _report((2, 30), mnist_drop=5).verdict == "promote"
    verdict, reason = verdict_for(_report((2, 30), mnist_drop=11))  # 0.11 points lost
    assert verdict == "keep" and "MNIST test" in reason
    verdict, reason = verdict_for(_report((5, 9), mnist_drop=0))  # better, but chance can do it
    assert verdict == "keep" and "not significantly" in reason
    verdict, reason = verdict_for(_report((30, 2), mnist_drop=0))
    assert verdict == "keep" and "not better" in reason


def test_report_round_trips_through_json() -> None:
    report = _report((2, 30), mnist_drop=5)
    data = json.loads(json.dumps(report.to_json()))
    assert data["challenger"] == {"name": "resnet-ft", "weights": "saved_models/resnet-ft.pt"}
    assert data["champion"]["name"] == "resnet" and data["verdict"] == "promote"
    people = data["sets"][HELD_OUT]
    assert people["challenger_only_correct"] == 30 and people["champion_only_correct"] == 2
    assert {"p_value", "interval", "champion_accuracy", "challenger_accuracy"} <= set(people)
    assert len(data["sets"][MNIST_TEST]["challenger_per_digit"]) == 10
    assert ComparisonReport.from_json(data) == report
    assert verdict_for(ComparisonReport.from_json(data)) == (report.verdict, report.reason)
    with pytest.raises(ValueError, match="not a comparison report"):
        ComparisonReport.from_json({"sets": {}})
