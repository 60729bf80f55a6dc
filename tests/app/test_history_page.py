"""History page: rows with thumbnails, filters, relabel and delete reaching the database."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from streamlit.testing.v1 import AppTest

from testing_support.dashboard import Seeded


def shown_ids(at: AppTest) -> list[int]:
    return [int(i) for i in at.dataframe[0].value["id"]]


def test_empty_database_shows_a_friendly_empty_state(open_page: Callable[..., AppTest]):
    at = open_page("history")
    assert any("No predictions stored yet" in info.value for info in at.info)
    assert not at.dataframe


def test_lists_every_prediction_newest_first_with_its_drawing(
    open_page: Callable[..., AppTest], seeded: Seeded
):
    at = open_page("history")
    assert shown_ids(at) == sorted(seeded.ids, reverse=True)
    table = at.dataframe[0].value
    assert table["drawing"].str.startswith("data:image/png;base64,").all()
    assert at.get("download_button"), "no CSV download"


def test_filters(open_page: Callable[..., AppTest], seeded: Seeded):
    at = open_page("history")
    at.segmented_control(key="history-status").set_value("wrong").run()
    assert sorted(shown_ids(at)) == [seeded.ids[1], seeded.ids[5]]
    at.segmented_control(key="history-status").set_value("unlabelled").run()
    assert shown_ids(at) == [seeded.ids[3]]
    at.segmented_control(key="history-status").set_value("unsure").run()  # SEED's rows 1, 2, 4
    assert sorted(shown_ids(at)) == [seeded.ids[0], seeded.ids[1], seeded.ids[3]]
    assert at.dataframe[0].value["unsure"].all()
    at.segmented_control(key="history-status").set_value("all").run()
    at.selectbox(key="history-version").select(seeded.versions["beta"]).run()
    assert sorted(shown_ids(at)) == seeded.ids[4:]


def test_relabel_changes_the_database(
    open_page: Callable[..., AppTest], seeded: Seeded, stored_rows: Callable[[], pd.DataFrame]
):
    target = seeded.ids[3]  # the unlabelled one
    at = open_page("history")
    at.selectbox(key="history-pick").select(target).run()
    at.selectbox(key=f"history-label-{target}").select(8).run()
    at.button(key="history-save").click().run()
    assert not at.exception
    rows = stored_rows().set_index("id")
    assert rows.loc[target, "true_label"] == 8
    assert rows["true_label"].notna().sum() == 6  # the others are untouched
    assert any("labelled **8**" in toast.value for toast in at.toast)


def test_delete_removes_exactly_that_prediction(
    open_page: Callable[..., AppTest], seeded: Seeded, stored_rows: Callable[[], pd.DataFrame]
):
    target = seeded.ids[1]
    at = open_page("history")
    at.selectbox(key="history-pick").select(target).run()
    at.button(key="history-delete").click().run()
    assert not at.exception
    assert sorted(stored_rows()["id"]) == sorted(set(seeded.ids) - {target})
    assert target not in shown_ids(at)
