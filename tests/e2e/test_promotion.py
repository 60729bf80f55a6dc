"""A promotion reaches a running server without a restart: the next drawing is answered,
and stored, by the new champion (then rolled back for the rest of the suite)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

import run_model
from db import champion, repository
from db.engine import session_scope
from testing_support.canvas_strokes import draw_with_mouse, drawing_surface
from testing_support.digit_paths import DIGIT_STROKES

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

APP_READY_TIMEOUT_MS = 60_000
ANSWER_TIMEOUT_MS = 20_000
CHAMPION_TTL_S = 10  # streamlit/resources.py: how long a server trusts its champion lookup


def _label_one(page: Page) -> None:
    draw_with_mouse(page, DIGIT_STROKES[1]())
    answer = page.get_by_test_id("stMetric").filter(has_text="Prediction")
    expect(answer.get_by_test_id("stMetricValue")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("button", name="1", exact=True).click()
    expect(page.get_by_test_id("stToast").filter(has_text="Saved")).to_be_visible(
        timeout=ANSWER_TIMEOUT_MS
    )


def _newest_model(url: str) -> str:
    with session_scope(url) as session:
        return repository.list_predictions(session, limit=1).iloc[0]["model_name"]


def test_a_running_server_serves_the_new_champion(
    desktop_page: Page, app_url: str, e2e_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", e2e_database_url)
    desktop_page.goto(app_url)
    drawing_surface(desktop_page).wait_for(state="visible", timeout=APP_READY_TIMEOUT_MS)
    selector = desktop_page.get_by_test_id("stSelectbox").filter(has_text="Model")
    expect(selector).to_match_aria_snapshot('- combobox "Model": resnet')
    try:
        run_model.promote("cnn", force=True, reason="browser test")
        time.sleep(CHAMPION_TTL_S + 1)
        _label_one(desktop_page)  # a rerun: the page now runs with the champion
        expect(selector).to_match_aria_snapshot('- combobox "Model": cnn')
        assert _newest_model(e2e_database_url) == "cnn"
        with session_scope(e2e_database_url) as session:
            assert champion.alias_history(session)[0].reason == "browser test"
    finally:
        run_model.promote("resnet")  # rollback, for the tests after this one
        time.sleep(CHAMPION_TTL_S + 1)
    desktop_page.reload()
    drawing_surface(desktop_page).wait_for(state="visible", timeout=APP_READY_TIMEOUT_MS)
    _label_one(desktop_page)
    assert _newest_model(e2e_database_url) == "resnet"
