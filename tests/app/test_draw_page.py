"""Draw page: a drawing in, the real model's answer out, one click to store it with a label."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from db import repository
from model import handwriting
from model.predictor import Prediction, Predictor
from model.synthetic import non_digit_shapes
from testing_support import REPO_ROOT
from testing_support.canvas_input import (
    canvas_key,
    canvas_reset,
    png_data_url,
    put_drawing,
    stroke_image,
)
from testing_support.digit_paths import DIGIT_STROKES


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """The default model, loaded once: what the app must agree with."""
    return Predictor.load()


def prediction_shown(at: AppTest) -> str | None:
    values = [metric.value for metric in at.metric if metric.label == "Prediction"]
    assert len(values) <= 1
    return values[0] if values else None


def label_buttons(at: AppTest, source: str = "canvas") -> list:
    return [at.button(key=f"label-{source}-{digit}") for digit in range(10)]


def photo_of(digit: int, fmt: str) -> bytes:
    """The digit's strokes as dark ink on uneven light paper, saved as PNG or JPEG."""
    ink = stroke_image(DIGIT_STROKES[digit](), width=14)[..., 0]
    paper = np.linspace(225, 190, 280, dtype=np.float32)[None, :].repeat(280, axis=0)
    photo = np.where(ink > 0, 35.0, paper).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).convert("RGB").save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("digit", [1, 0])
def test_drawing_is_predicted_then_stored_with_its_label_in_one_click(
    open_page: Callable[..., AppTest],
    stored_rows: Callable[[], pd.DataFrame],
    predictor: Predictor,
    digit: int,
):
    at = open_page("draw")
    assert prediction_shown(at) is None, "a prediction before anything was drawn"
    drawing = stroke_image(DIGIT_STROKES[digit]())
    at = put_drawing(at, drawing)
    assert prediction_shown(at) == str(digit)
    assert stored_rows().empty, "something was stored while only drawing"

    buttons = label_buttons(at)
    assert [button.label for button in buttons] == [str(d) for d in range(10)]
    assert [button.proto.type for button in buttons].count("primary") == 1
    assert buttons[digit].proto.type == "primary"

    first_canvas = canvas_reset(at)
    buttons[digit].click().run()
    assert not at.exception

    rows = stored_rows()
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.predicted_digit, row.true_label, row.source) == (digit, digit, "canvas")
    expected = predictor.predict(drawing)
    assert np.array_equal(repository.image_as_array(row.image), expected.input28)
    assert row.model_name == predictor.name
    assert any("Saved" in toast.value for toast in at.toast)
    assert canvas_reset(at) != first_canvas, "the canvas was not replaced by a blank one"
    assert prediction_shown(at) is None


def _first_drawing(predictor: Predictor, drawings, wanted: Callable[[Prediction], bool]):
    """The first of `drawings` whose prediction is `wanted`."""
    for drawing in drawings:
        prediction = predictor.predict(drawing)
        if prediction is not None and wanted(prediction):
            return drawing, prediction
    raise AssertionError("no drawing of the kind the test needs: search more of them")


def test_an_unsure_answer_says_why(open_page: Callable[..., AppTest], predictor: Predictor):
    """Torn between two digits, the warning names the other one; like no digit, it says so."""
    rng = np.random.default_rng(0)
    people = handwriting.people("held-out-styles", 60)
    digits = (handwriting.draw_digit(who, digit, rng) for who in people for digit in (1, 7, 4, 2))
    torn, prediction = _first_drawing(
        predictor, digits, lambda p: p.unsure and p.runner_up[1] >= 0.25
    )
    at = put_drawing(open_page("draw"), torn)
    second, chance = prediction.runner_up
    assert [w.value for w in at.warning] == [
        f"**Unsure**: it could as well be a **{second}** ({chance:.0%}). If it is a digit, "
        "say which below; that is the most useful label of all."
    ]
    shapes, _ = non_digit_shapes(60, np.random.default_rng(0))  # grey: white ink on black
    opaque = (np.dstack([shape] * 3 + [np.full_like(shape, 255)]) for shape in shapes)
    odd, _ = _first_drawing(predictor, opaque, lambda p: p.unsure and p.runner_up[1] < 0.05)
    at = put_drawing(open_page("draw"), odd)
    assert len(at.warning) == 1 and "does not look clearly like any digit" in at.warning[0].value


def test_a_corrected_label_is_stored_beside_the_prediction_and_the_strokes(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame]
):
    strokes = DIGIT_STROKES[1]()
    at = put_drawing(open_page("draw"), stroke_image(strokes), strokes)
    at.button(key="label-canvas-7").click().run()
    row = stored_rows().iloc[0]
    assert (row.predicted_digit, row.true_label) == (1, 7)
    assert_strokes_stored(row, strokes)


def assert_strokes_stored(row: pd.Series, strokes: list) -> None:
    assert (row.canvas_width, row.canvas_height) == (280, 280)
    assert len(row.strokes) == len(strokes)
    for stored_stroke, drawn in zip(row.strokes, strokes, strict=True):
        assert np.allclose(np.asarray(stored_stroke), np.asarray(drawn))


def test_a_cleared_drawing_is_stored_unlabelled_with_its_strokes(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame]
):
    strokes = DIGIT_STROKES[0]()
    at = put_drawing(open_page("draw"), stroke_image(strokes), strokes)
    assert prediction_shown(at) == "0"
    assert stored_rows().empty, "stored while only drawing"
    blank = canvas_reset(at)
    at.button(key="clear-canvas").click().run()
    assert not at.exception
    assert canvas_reset(at) != blank and prediction_shown(at) is None
    rows = stored_rows()
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (row.predicted_digit, row.source) == (0, "canvas")
    assert pd.isna(row.true_label)
    assert_strokes_stored(row, strokes)
    at.button(key="clear-canvas").click().run()  # clearing a blank canvas stores nothing
    assert len(stored_rows()) == 1


def test_a_drawing_blanked_by_the_canvas_toolbar_is_stored_unlabelled(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame]
):
    strokes = DIGIT_STROKES[1]()
    at = put_drawing(open_page("draw"), stroke_image(strokes), strokes)
    blank = io.BytesIO()
    Image.new("RGBA", (280, 280), (0, 0, 0, 255)).save(blank, format="PNG")
    # The toolbar's reset (or undoing every stroke) sends a blank canvas with no paths.
    at.session_state[canvas_key(at)] = {
        "drawing": {
            "raw": {"objects": []},
            "data": png_data_url(blank.getvalue()),
            "nonce": canvas_reset(at),
        },
        "backgroundFit": None,
    }
    at.run()
    assert not at.exception and not at.error
    assert prediction_shown(at) is None
    rows = stored_rows()
    assert len(rows) == 1 and pd.isna(rows.iloc[0].true_label)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_an_uploaded_photo_is_predicted_and_labelled(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame], fmt: str
):
    at = open_page("draw")
    at.file_uploader[0].upload(f"one.{fmt.lower()}", photo_of(1, fmt), f"image/{fmt.lower()}")
    at.run()
    assert prediction_shown(at) == "1"
    at.button(key="label-upload-1").click().run()
    row = stored_rows().iloc[0]
    assert (row.predicted_digit, row.true_label, row.source) == (1, 1, "upload")
    assert not at.file_uploader[0].value, "the uploader was not cleared for the next photo"


def test_a_photo_replaced_or_removed_unlabelled_is_stored_unlabelled_without_strokes(
    open_page: Callable[..., AppTest], stored_rows: Callable[[], pd.DataFrame]
):
    at = open_page("draw")
    at.file_uploader[0].upload("one.png", photo_of(1, "PNG"), "image/png").run()
    at.file_uploader[0].upload("zero.png", photo_of(0, "PNG"), "image/png").run()
    assert prediction_shown(at) == "0"
    rows = stored_rows()
    assert list(rows["predicted_digit"]) == [1], "the replaced photo was not stored"
    at.file_uploader[0].clear().run()
    rows = stored_rows().sort_values("id")
    assert list(rows["predicted_digit"]) == [1, 0]
    assert rows["true_label"].isna().all() and (rows["source"] == "upload").all()
    assert rows["strokes"].isna().all() and rows["canvas_width"].isna().all()


def test_an_unreadable_upload_gets_a_clear_message(open_page: Callable[..., AppTest]):
    at = open_page("draw")
    at.file_uploader[0].upload("digit.png", b"this is not a picture", "image/png").run()
    assert not at.exception
    assert any("digit.png: not an image" in error.value for error in at.error)


def test_without_a_database_prediction_works_and_labels_wait_in_the_outbox(
    open_page: Callable[..., AppTest],
    monkeypatch: pytest.MonkeyPatch,
    unreachable_database_url: str,
):
    monkeypatch.setenv("DATABASE_URL", unreachable_database_url)
    at = open_page("draw")
    assert any("database is unreachable" in warning.value for warning in at.warning)
    at = put_drawing(at, stroke_image(DIGIT_STROKES[0]()))
    assert prediction_shown(at) == "0"
    canvas = canvas_reset(at)
    at.button(key="label-canvas-0").click().run()
    assert not at.exception
    assert any("will be sent when the database is back" in toast.value for toast in at.toast)
    assert any("1 drawing waits" in info.value for info in at.info)
    assert canvas_reset(at) != canvas, "the canvas was not cleared for the next digit"


def test_the_shipped_canvas_build_is_upstreams_bundle_with_the_patch():
    """streamlit/components/drawable_canvas/frontend is what its build script makes."""
    build = REPO_ROOT / "streamlit" / "components" / "drawable_canvas" / "build.py"
    result = subprocess.run(
        [sys.executable, str(build), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
