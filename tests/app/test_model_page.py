"""Model page: the default model's card, as saved next to its weights."""

from __future__ import annotations

import json
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


def test_shows_the_real_handwriting_proxy_beside_mnist(open_page: Callable[..., AppTest]):
    card = Predictor.load().card
    at = open_page("model")
    shown = {metric.label: metric.value for metric in at.metric}
    people, styles = card.style_proxy, card.style_proxy_held_out_styles
    assert shown["Held-out people"] == f"{people.accuracy:.2%}"
    assert shown["Held-out styles"] == f"{styles.accuracy:.2%}"
    details = " ".join(block.value for block in at.markdown)
    assert f"worst person {styles.worst_person_accuracy:.2%}" in details
    true, answer, count = styles.errors_by_pair[0]
    assert f"{true} read as {answer} ({count})" in details


def test_per_digit_bars_are_labelled_to_a_tenth_of_a_point(open_page: Callable[..., AppTest]):
    """On a zoomed axis 99.6 % and 100 % differ; the labels must say so too."""
    card = Predictor.load().card
    at = open_page("model")
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    assert bars["text"] == [f"{a:.1%}" for a in card.per_digit_test_accuracy]
