"""Promotion changes what a running app serves, without a restart; rollback too."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pandas as pd
from streamlit.testing.v1 import AppTest

import run_model
from db import champion
from db.engine import session_scope
from testing_support.canvas_input import put_drawing, stroke_image
from testing_support.digit_paths import DIGIT_STROKES
from testing_support.learning_loop import a_version

REASON = "AppTest: cnn reads our drawings"


def _serving(at: AppTest) -> str:
    return at.selectbox(key="draw-model").value


def _forget_the_cached_champion() -> None:
    """What CHAMPION_TTL_S of waiting does, without the wait (the first test waits)."""
    sys.modules["resources"]._champion.clear()


def test_a_promotion_reaches_the_running_app_and_its_predictions(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame], app_db: str
) -> None:
    at = open_page("draw")
    assert _serving(at) == "resnet"  # no alias: DIGITLAB_DEFAULT_MODEL, as before
    run_model.promote("cnn", force=True, reason=REASON)
    time.sleep(sys.modules["resources"].CHAMPION_TTL_S + 0.5)
    at.run()
    assert not at.exception
    assert _serving(at) == "cnn"

    at = put_drawing(at, stroke_image(DIGIT_STROKES[1]()))
    at.button(key="label-canvas-1").click().run()
    (row,) = stored_rows().itertuples()
    assert row.model_name == "cnn"  # the stored prediction names the version that made it
    with session_scope(app_db) as session:
        (move,) = champion.alias_history(session)
    assert (move.to_name, move.forced, move.reason) == ("cnn", True, REASON)

    run_model.promote("resnet")  # rollback: the version that served before
    _forget_the_cached_champion()
    at.run()
    assert _serving(at) == "resnet"


def test_a_persons_own_pick_outlives_a_promotion(open_page: Callable[..., AppTest]) -> None:
    at = open_page("draw")
    at.selectbox(key="draw-model").select("lenet5").run()
    run_model.promote("cnn", force=True, reason="AppTest")
    _forget_the_cached_champion()
    at.run()
    assert _serving(at) == "lenet5"


def test_a_champion_without_weights_serves_the_default_with_a_banner(
    open_page: Callable[..., AppTest], app_db: str
) -> None:
    with session_scope(app_db) as session:
        champion.set_alias(session, a_version(app_db, "vanished"))
    _forget_the_cached_champion()
    at = open_page("draw")
    assert _serving(at) == "resnet"
    (banner,) = [w for w in at.warning if "vanished.pt" in w.value]
    assert "serves instead" in banner.value
