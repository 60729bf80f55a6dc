"""The Draw page when things go wrong: the database away, a double click, bad pictures,
broken model files. Nothing may crash, nothing may be lost, nothing bad may be stored.

The app runs for real under AppTest with an untrained LeNet-5 saved in a test folder
(`tests/model_files.py`): these tests are about storage and messages, not accuracy,
so they do not wait for (or depend on) the committed models.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from db import repository
from db.engine import session_scope
from db.outbox import Outbox
from model.predictor import Predictor
from testing_support import APP
from testing_support.canvas_input import (
    canvas_reset,
    png_data_url,
    put_canvas_data_url,
    put_drawing,
    stroke_image,
)
from testing_support.dashboard import RUN_TIMEOUT_S
from testing_support.digit_paths import DIGIT_STROKES
from tests.bad_images import bad_uploads, png_claiming
from tests.model_files import MODEL_FAULTS, break_model, save_untrained


@pytest.fixture(scope="module")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained(tmp_path_factory.mktemp("models"), "alpha")


@pytest.fixture
def models_dir(
    tmp_path: Path, good_model: Path, monkeypatch: pytest.MonkeyPatch, fresh_sqlite_url: str
) -> Path:
    """A models folder holding `alpha` (the default), local state in tmp, a fresh SQLite."""
    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".pt", ".json"):
        shutil.copy(good_model.with_suffix(suffix), folder)
    monkeypatch.setenv("DIGITLAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("DIGITLAB_DEFAULT_MODEL", "alpha")
    monkeypatch.setenv("DIGITLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DATABASE_URL", fresh_sqlite_url)
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)
    monkeypatch.delenv("DIGITLAB_OUTBOX_DIR", raising=False)
    return folder


def open_draw() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def rows(url: str) -> pd.DataFrame:
    with session_scope(url) as session:
        return repository.list_predictions(session, limit=None)


def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "home" / "outbox")


def prediction_shown(at: AppTest) -> str | None:
    values = [metric.value for metric in at.metric if metric.label == "Prediction"]
    return values[0] if values else None


@pytest.mark.postgres
def test_labels_made_while_the_database_is_down_are_kept_and_sent_when_it_is_back(
    models_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    unreachable_database_url: str,
    fresh_pg_url: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", unreachable_database_url)
    at = open_draw()
    assert any("database is unreachable" in warning.value for warning in at.warning)
    at = put_drawing(at, stroke_image(DIGIT_STROKES[0]()))
    first_canvas = canvas_reset(at)
    at.button(key="label-canvas-0").click().run()
    assert not at.exception
    assert any("will be sent when the database is back" in toast.value for toast in at.toast)
    assert canvas_reset(at) != first_canvas, "the canvas was not cleared for the next digit"
    assert any("1 drawing waits" in info.value for info in at.info)
    assert len(outbox(tmp_path).waiting()) == 1

    monkeypatch.setenv("DATABASE_URL", fresh_pg_url)  # the database is back
    at.run()  # what the page's periodic fragment does every few seconds
    assert not at.exception
    assert not any("wait" in info.value for info in at.info)
    assert not any("unreachable" in warning.value for warning in at.warning)
    stored = rows(fresh_pg_url)
    assert list(zip(stored.true_label, stored.source, strict=True)) == [(0, "canvas")]
    assert outbox(tmp_path).waiting() == []


def test_a_double_click_on_the_label_buttons_stores_one_row(
    models_dir: Path, fresh_sqlite_url: str, tmp_path: Path
) -> None:
    """Two clicks before the page redraws: both callbacks run, with one request id."""
    at = put_drawing(open_draw(), stroke_image(DIGIT_STROKES[1]()))
    at.button(key="label-canvas-1").click()
    at.button(key="label-canvas-7").click()
    at.run()
    assert not at.exception
    stored = rows(fresh_sqlite_url)
    assert len(stored) == 1 and stored.true_label.iloc[0] in (1, 7)
    assert outbox(tmp_path).waiting() == []


def test_bad_uploads_get_a_clear_message_and_store_nothing(
    models_dir: Path, fresh_sqlite_url: str, tmp_path: Path
) -> None:
    at = open_draw()
    for name, (content, reason) in bad_uploads().items():
        at.file_uploader[0].upload(name, content, "image/png").run()
        assert not at.exception, name
        if reason == "no digit":
            assert any("No digit found" in info.value for info in at.info), name
        else:
            assert any(reason in error.value and name in error.value for error in at.error), name
        assert prediction_shown(at) is None, name
    assert rows(fresh_sqlite_url).empty and outbox(tmp_path).waiting() == []


def test_bad_canvas_input_gets_a_clear_message_and_stores_nothing(
    models_dir: Path, fresh_sqlite_url: str, tmp_path: Path
) -> None:
    blank = np.zeros((280, 280, 4), np.uint8)
    blank[..., 3] = 255
    one_pixel = blank.copy()
    one_pixel[140, 140] = 255
    all_ink = np.full((280, 280, 4), 255, np.uint8)
    at = open_draw()
    for name, picture in (("blank", blank), ("one pixel", one_pixel), ("all ink", all_ink)):
        at = put_drawing(at, picture)
        assert not at.exception, name
        assert prediction_shown(at) is None, name
        assert any("Draw a digit on the canvas" in info.value for info in at.info), name
    for name, data_url, reason in (
        ("not a PNG", png_data_url(b"not a png"), "drawing: not an image"),
        ("no data URL", "javascript:alert(1)", "drawing: not an image"),
        ("bomb", png_data_url(png_claiming(50_000, 50_000)), "decompression bomb"),
    ):
        at = put_canvas_data_url(at, data_url)
        assert not at.exception, name
        assert prediction_shown(at) is None, name
        assert any(reason in error.value for error in at.error), name
    assert rows(fresh_sqlite_url).empty and outbox(tmp_path).waiting() == []


@pytest.mark.parametrize("fault", MODEL_FAULTS)
def test_a_broken_default_model_is_explained_and_the_others_still_work(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    broken = save_untrained(models_dir, "cnn")  # a LeNet-5 saved under the name cnn
    break_model(broken, fault)
    monkeypatch.setenv("DIGITLAB_DEFAULT_MODEL", "cnn")
    at = open_draw()
    messages = [element.value for element in [*at.error, *at.warning]]
    if fault == "missing":
        assert any("default model `cnn` is not in" in m for m in messages), messages
        assert any("python run_model.py --arch cnn" in m for m in messages), messages
    else:
        assert any(
            "Model `cnn` cannot be used" in m and MODEL_FAULTS[fault] in m and "cnn.pt" in m
            for m in messages
        ), messages
        assert any("python run_model.py --arch" in m and "(alpha)" in m for m in messages)
    picker = at.selectbox(key="draw-model")
    assert "alpha" in picker.options
    if picker.value != "alpha":
        picker.select("alpha").run()
    assert not at.exception and not at.error
    drawing = stroke_image(DIGIT_STROKES[1]())
    at = put_drawing(at, drawing)
    answer = Predictor.load(models_dir / "alpha.pt").predict(drawing)
    assert answer is not None and prediction_shown(at) == str(answer.digit)
