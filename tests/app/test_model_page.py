"""Model page: the default model's card, as saved next to its weights."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from model.predictor import Predictor


def test_shows_the_default_models_card(open_page: Callable[..., AppTest]):
    card = Predictor.load().card
    at = open_page("model")
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Test accuracy"] == f"{card.test_accuracy:.2%}"
    assert shown["Parameters"] == f"{card.parameters:,}"
    assert at.selectbox(key="model-page-model").value == card.name
    assert any(card.architecture in subheader.value for subheader in at.subheader)
    assert not at.error
