"""The dashboard in a real browser: draw, see the answer, label it, find it in the database.

One Streamlit server and one Chromium for the whole module (see conftest.py); the
database is a real throwaway PostgreSQL. Each drawing test checks the whole path a
user's digit takes: pointer strokes -> canvas pixels -> model -> Prediction metric
-> label button -> exactly one new row with that digit, that label and its image.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from db import repository
from db.drawing_file import parse_line
from model.predictor import Predictor
from testing_support.canvas_strokes import draw_with_mouse, draw_with_touch, drawing_surface
from testing_support.digit_paths import DIGIT_STROKES
from testing_support.draw_page import (
    ANSWER_TIMEOUT_MS,
    APP_READY_TIMEOUT_MS,
    label_and_expect_cleared,
    open_draw_page,
    prediction_value,
    stored,
)

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@functools.cache
def default_predictor() -> Predictor:
    return Predictor.load()


@pytest.mark.parametrize("digit", [1, 0])
def test_mouse_drawn_digit_is_predicted_labelled_and_stored(
    desktop_page: Page, app_url: str, e2e_database_url: str, digit: int, screenshot_dir: Path
):
    before = set(stored(e2e_database_url)["id"])
    open_draw_page(desktop_page, app_url)
    draw_with_mouse(desktop_page, DIGIT_STROKES[digit]())
    expect(prediction_value(desktop_page)).to_have_text(str(digit), timeout=ANSWER_TIMEOUT_MS)
    assert set(stored(e2e_database_url)["id"]) == before, "stored while only drawing"
    desktop_page.screenshot(path=str(screenshot_dir / f"draw-{digit}.png"))

    label_and_expect_cleared(desktop_page, digit)
    rows = stored(e2e_database_url)
    new = rows[~rows["id"].isin(before)]
    assert len(new) == 1, f"expected exactly one new row, got {len(new)}"
    row = new.iloc[0]
    assert (row.predicted_digit, row.true_label, row.source) == (digit, digit, "canvas")
    image = repository.image_as_array(row.image)
    assert image.max() > 0, "the stored 28x28 image is blank"
    # The stored image is the model's view of this drawing: the model says so again.
    assert int(default_predictor().predict_batch(image[None]).argmax()) == digit


def test_touch_drawn_digit_on_a_phone(
    phone_page: Page, app_url: str, e2e_database_url: str, screenshot_dir: Path
):
    before = set(stored(e2e_database_url)["id"])
    open_draw_page(phone_page, app_url)
    cdp = phone_page.context.new_cdp_session(phone_page)
    drawing_surface(phone_page).scroll_into_view_if_needed()
    draw_with_touch(phone_page, cdp, DIGIT_STROKES[1]())
    expect(prediction_value(phone_page)).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    phone_page.screenshot(path=str(screenshot_dir / "phone-draw.png"))
    label_and_expect_cleared(phone_page, 1)
    rows = stored(e2e_database_url)
    new = rows[~rows["id"].isin(before)]
    assert list(zip(new["predicted_digit"], new["true_label"], strict=True)) == [(1, 1)]


@pytest.mark.parametrize("page_name", ["statistics", "history", "model"])
def test_every_page_renders(desktop_page: Page, app_url: str, page_name: str, screenshot_dir: Path):
    """Runs after the drawing tests, so Statistics and History have data to show."""
    desktop_page.set_viewport_size({"width": 1366, "height": 2200})
    desktop_page.goto(f"{app_url}/{page_name}")
    expect(desktop_page.get_by_role("heading", name=page_name.capitalize())).to_be_visible(
        timeout=APP_READY_TIMEOUT_MS
    )
    expect(desktop_page.get_by_test_id("stSpinner")).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    desktop_page.wait_for_load_state("networkidle")
    assert desktop_page.get_by_test_id("stException").count() == 0
    desktop_page.screenshot(path=str(screenshot_dir / f"{page_name}.png"))


def test_history_downloads_hold_every_stored_drawing(
    desktop_page: Page, app_url: str, e2e_database_url: str
):
    """What a person saves from History is what the database holds: CSV and JSON Lines
    of the rows shown (the newest 50 by default)."""
    rows = stored(e2e_database_url).head(50)
    assert len(rows) >= 3, "runs after the drawing tests, which store three drawings"
    desktop_page.goto(f"{app_url}/history")
    expect(desktop_page.get_by_role("heading", name="History")).to_be_visible(
        timeout=APP_READY_TIMEOUT_MS
    )
    table = pd.read_csv(io.BytesIO(_download(desktop_page, "Download CSV")))
    assert list(table["id"]) == list(rows["id"])
    assert list(table["true_label"].fillna(-1)) == list(rows["true_label"].fillna(-1))
    lines = _download(desktop_page, "Download JSON Lines").decode("utf-8").splitlines()
    records = {record.request_id: record for record in map(parse_line, lines)}
    assert set(records) == set(rows["client_request_id"])
    for row in rows.itertuples():
        record = records[row.client_request_id]
        label = None if pd.isna(row.true_label) else row.true_label
        assert record.label == label and record.drawing is not None
        picture = np.asarray(Image.open(io.BytesIO(record.png)))
        assert np.array_equal(picture, repository.image_as_array(row.image))


def _download(page: Page, label: str) -> bytes:
    button = page.get_by_test_id("stDownloadButton").filter(has_text=label)
    with page.expect_download(timeout=ANSWER_TIMEOUT_MS) as event:
        button.get_by_role("button").click()
    return Path(event.value.path()).read_bytes()
