"""The committed default model on held-out people's handwriting: what its card promises.

The card's `style_proxy` (held-out people) and `style_proxy_held_out_styles` (people
who also write styles training never saw) are measured by `robustness.style_proxy` when
the model is trained; here they are measured again, with the unsure rates.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.checkpoint import weights_path
from model.handwriting import NOVEL_VARIANT_WEIGHTS, person
from model.predictor import Predictor
from model.robustness import (
    PROXY_PEOPLE,
    PROXY_PER_DIGIT,
    non_digit_flagged,
    proxy_digits,
    style_proxy,
)
from settings import DEFAULT_ARCHITECTURE, REPO_ROOT

TOLERANCE = 0.003  # +-0.3 points


@pytest.fixture(scope="module")
def default_predictor() -> Predictor:
    return Predictor.load(weights_path(REPO_ROOT / "saved_models", DEFAULT_ARCHITECTURE))


@pytest.mark.parametrize(
    ("split", "field"),
    [("held-out people", "style_proxy"), ("held-out styles", "style_proxy_held_out_styles")],
)
def test_default_model_reads_each_proxy_split_as_its_card_says(
    default_predictor, split: str, field: str
) -> None:
    card = getattr(default_predictor.card, field)
    assert card is not None, f"the default model's card has no {field}: retrain it"
    report = style_proxy(default_predictor, proxy_digits(split))
    assert report.n == card.n and report.people == card.people
    assert abs(report.accuracy - card.accuracy) <= TOLERANCE
    assert abs(report.unsure_share - card.unsure_share) <= TOLERANCE


def test_the_held_out_styles_split_is_drawn_by_people_writing_unseen_variants() -> None:
    digits = proxy_digits("held-out styles")
    writers = [person("held-out-styles", int(i)) for i in np.unique(digits.person)]
    novel = [sum(who.variants[d] in NOVEL_VARIANT_WEIGHTS[d] for d in range(10)) for who in writers]
    assert (
        len(writers) == PROXY_PEOPLE and digits.labels.size == 10 * PROXY_PEOPLE * PROXY_PER_DIGIT
    )
    assert np.mean(novel) >= 3  # about half their digits in styles training never saw
    with pytest.raises(ValueError, match="proxy split must be one of"):
        proxy_digits("held-out digits")


def test_default_model_flags_non_digits_as_its_card_says(default_predictor) -> None:
    expected = default_predictor.card.unsure_report.non_digits_flagged
    assert abs(non_digit_flagged(default_predictor, n=1300).flagged - expected) <= TOLERANCE
    assert expected >= 0.90


def test_the_proxy_report_counts_errors_by_true_and_predicted_digit(default_predictor) -> None:
    digits = proxy_digits()
    report = style_proxy(default_predictor, digits)
    wrong = sum(count for _, _, count in report.errors_by_pair)
    assert wrong == round((1 - report.accuracy) * report.n)
    assert all(true != predicted for true, predicted, _ in report.errors_by_pair)
    assert 0 <= report.worst_person_accuracy <= report.accuracy
    assert len(np.unique(digits.person)) == report.people
