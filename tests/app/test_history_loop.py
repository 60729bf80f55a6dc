"""History: the JSON Lines download beside CSV, and the "Suspicious labels" filter."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest
from synthetic_people import people_drawings

from db import drawings
from db.engine import session_scope
from testing_support.learning_loop import store_labelled

FLIPPED = [0, 17, 33, 48]  # drawings given a wrong label (digit + 5)


def _stored_people(url: str) -> list[int]:
    """60 drawings by two people, four of them mislabelled; their ids, in order."""
    labelled = people_drawings(range(2), per_digit=3)
    labelled.labels[FLIPPED] = (labelled.labels[FLIPPED] + 5) % 10
    store_labelled(url, labelled)
    with session_scope(url) as session:
        return [d.prediction_id for d in drawings.stored_drawings(session)]


def test_suspicious_labels_come_first(open_page: Callable[..., AppTest], app_db: str) -> None:
    ids = _stored_people(app_db)
    at = open_page("history")
    at.segmented_control(key="history-status").set_value("suspicious").run()
    assert not at.exception
    shown = [int(i) for i in at.dataframe[0].value["id"]]
    mislabelled = {ids[i] for i in FLIPPED}
    assert mislabelled <= set(shown) and shown[0] in mislabelled
    assert len(shown) < len(ids) // 4  # the correctly labelled ones are mostly not shown

    fixed = shown[0]
    at.selectbox(key="history-pick").select(fixed).run()
    right = (at.selectbox(key=f"history-label-{fixed}").value - 5) % 10
    at.selectbox(key=f"history-label-{fixed}").select(right).run()
    at.button(key="history-save").click().run()
    assert fixed not in [int(i) for i in at.dataframe[0].value["id"]]


def test_json_lines_download_sits_beside_csv(open_page: Callable[..., AppTest], app_db) -> None:
    """Its content is `db.drawing_file.format_lines` of the rows shown: the export's
    format, whose round trip tests/loop/test_drawings_cli.py checks."""
    _stored_people(app_db)
    at = open_page("history")
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels == ["Download CSV", "Download JSON Lines"]
