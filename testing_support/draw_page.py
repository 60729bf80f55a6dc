"""The Draw page as the browser suite drives it: open it, read the answer, label, read the store.

Why a module of its own: several browser test files (and the browser benchmark) walk the
same page the same way; tests share helpers through a support module, not by importing
each other.
"""

from __future__ import annotations

import pandas as pd
from playwright.sync_api import Locator, Page, expect

from db import repository
from db.engine import session_scope
from testing_support.canvas_strokes import drawing_surface, ink_pixels

APP_READY_TIMEOUT_MS = 60_000
ANSWER_TIMEOUT_MS = 20_000


def open_draw_page(page: Page, app_url: str) -> None:
    page.goto(app_url)
    # The first visit loads the model (cached for the process afterwards).
    drawing_surface(page).wait_for(state="visible", timeout=APP_READY_TIMEOUT_MS)


def prediction_value(page: Page) -> Locator:
    metric = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    return metric.get_by_test_id("stMetricValue")


def press_label(page: Page, digit: int) -> None:
    button = page.get_by_role("button", name=str(digit), exact=True)
    expect(button).to_be_visible()
    button.click()


def wait_for_blank_canvas(page: Page) -> None:
    """The answer is gone and the canvas shows no ink: ready for the next digit."""
    expect(prediction_value(page)).to_have_count(0, timeout=ANSWER_TIMEOUT_MS)
    drawing_surface(page).wait_for(state="visible")
    assert ink_pixels(page) == 0, "the canvas still shows the last drawing"


def label_and_expect_cleared(page: Page, digit: int) -> None:
    """Press the digit's label button; the toast confirms and the canvas comes back blank."""
    press_label(page, digit)
    expect(page.get_by_test_id("stToast").filter(has_text="Saved")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )
    wait_for_blank_canvas(page)


def clear_canvas(page: Page) -> None:
    page.get_by_role("button", name="Clear").click()
    wait_for_blank_canvas(page)


def stored(database_url: str) -> pd.DataFrame:
    with session_scope(database_url) as session:
        return repository.list_predictions(session, limit=None)
