"""Statistics page: the seeded numbers on screen, filters that change them, empty state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from testing_support.dashboard import Seeded


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_empty_database_shows_a_friendly_empty_state(open_page: Callable[..., AppTest]):
    at = open_page("statistics")
    assert any("Nothing to show yet" in info.value for info in at.info)
    assert not at.error
    assert not at.metric


def test_kpis_show_the_seeded_numbers(open_page: Callable[..., AppTest], seeded: Seeded):
    at = open_page("statistics")
    shown = metrics(at)
    assert shown["Predictions"] == "6"
    assert shown["Labelled"] == "5"
    assert shown["Accuracy on labelled"] == "60.0%"
    # The seed was stored moments ago: all of it falls in the last 24 hours.
    assert shown["Accuracy, last 24 h"] == "60.0%"
    titles = {subheader.value for subheader in at.subheader}
    assert {"Accuracy per digit", "Confusion matrix", "Reliability (calibration)"} <= titles
    assert not at.error


def test_unsure_shows_how_often_it_fired_on_right_and_wrong_answers(
    open_page: Callable[..., AppTest], seeded: Seeded
):
    at = open_page("statistics")
    shown = metrics(at)  # testing_support.dashboard.SEED, by hand
    assert shown["Flagged unsure"] == "40.0%"
    assert shown["Unsure on right answers"] == "33.3%"
    assert shown["Errors caught"] == "50.0%"
    assert shown["Accuracy when sure"] == "66.7%"
    versions = at.dataframe[0].value.set_index("model_name")["unsure_share"]
    assert versions.to_dict() == {"alpha": pytest.approx(2 / 3), "beta": 0.0}


def test_model_version_filter_narrows_the_numbers(
    open_page: Callable[..., AppTest], seeded: Seeded
):
    at = open_page("statistics")
    at.selectbox(key="statistics-version").select(seeded.versions["alpha"]).run()
    shown = metrics(at)
    assert shown["Predictions"] == "4"
    assert shown["Labelled"] == "3"
    assert shown["Accuracy on labelled"] == "66.7%"


def test_date_range_filters_the_numbers(
    open_page: Callable[..., AppTest], seeded: Seeded, stored_rows: Callable[[], pd.DataFrame]
):
    today = stored_rows()["created_at"].max().date()  # the seed's (UTC) day
    at = open_page("statistics")
    at.date_input(key="statistics-dates").set_value((today, today)).run()
    assert metrics(at)["Predictions"] == "6"  # the end day is included
    later = today + timedelta(days=2)
    at.date_input(key="statistics-dates").set_value((later, later + timedelta(days=7))).run()
    assert not at.metric
    assert any("No predictions match" in info.value for info in at.info)


def test_unreachable_database_gives_one_clear_message(
    open_page: Callable[..., AppTest], monkeypatch, unreachable_database_url: str
):
    monkeypatch.setenv("DATABASE_URL", unreachable_database_url)
    for page in ("statistics", "history"):
        at = open_page(page)
        assert len(at.error) == 1
        assert "cannot be reached" in at.error[0].value
