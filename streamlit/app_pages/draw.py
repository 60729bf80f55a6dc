"""Draw: sketch a digit, watch the prediction follow every stroke, label it in one click.

Layout only. The flow a user sees: draw -> the answer updates on pen-up (no button)
-> press the digit they meant -> it is stored with that label, a toast confirms,
and the canvas is blank for the next one. Nothing is stored while only drawing.
The upload tab is the same flow for a photo of a digit on paper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import charts
import drawable_canvas
import resources
import streamlit as st

from db.feedback import Delivery
from model.image_io import ImageReadError, read_image

if TYPE_CHECKING:
    from model.predictor import Prediction, Predictor

CANVAS_PX = 280
# MNIST strokes are ~2-3 px in a 20 px digit box: ~1/8 of the digit's height. A
# digit drawn across most of a 280 px canvas gets the same proportion from ~18 px.
BRUSH_PX = 18
INK = "#ffffff"
PAPER = "#000000"

# Bumping a generation blanks the canvas (in place) / gives the uploader a new key.
CANVAS_GENERATION = "canvas_generation"
UPLOAD_GENERATION = "upload_generation"
NOTICE = "draw_notice"  # (text, icon) of a toast a callback asks the next run to show


def _next(generation_key: str) -> None:
    st.session_state[generation_key] = st.session_state.get(generation_key, 0) + 1


def _store(
    predictor: Predictor,
    prediction: Prediction,
    label: int,
    source: str,
    generation_key: str,
    request_id: str,
) -> None:
    """Button callback: store this prediction with its true label, then start afresh.

    `request_id` was fixed when the buttons were drawn, so a double click (two
    callbacks for one drawing) sends the same id twice and the store keeps one row.
    The toast is shown by the next run (`show_notice`): an element sent from a
    callback of a fragment lands on top of the page's elements and shifts them.
    """
    submission = resources.submission(
        predictor, prediction, source=source, client_request_id=request_id, label=label
    )
    delivery = resources.feedback_store().submit(submission)
    if delivery is Delivery.NOT_SAVED:
        _notice(
            f"Not saved: this server cannot store it right now (you said {label}). "
            "Try again in a moment.",
            ":material/error:",
        )
        return
    verdict = "right" if label == prediction.digit else f"it said {prediction.digit}"
    if delivery is Delivery.QUEUED:
        _notice(
            f"Saved as **{label}** ({verdict}) on this server; it will be sent when the "
            "database is back.",
            ":material/cloud_upload:",
        )
    else:
        _notice(f"Saved as **{label}** ({verdict}).", ":material/check_circle:")
    _next(generation_key)


def _notice(text: str, icon: str) -> None:
    st.session_state[NOTICE] = (text, icon)


def show_notice() -> None:
    """The toast a callback left for this run, if any."""
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        st.toast(notice[0], icon=notice[1])


def show_prediction(
    predictor: Predictor, prediction: Prediction, source: str, generation_key: str
) -> None:
    """The answer and how sure, the label buttons right under it, then the details.

    Buttons sit directly below the answer so that on a phone, where the columns
    stack, labelling is one short scroll from the canvas.
    """
    answer, seen = st.columns([3, 2], vertical_alignment="center")
    with answer:
        st.metric("Prediction", str(prediction.digit), border=True)
        st.metric("Confidence", f"{prediction.confidence:.1%}")
    with seen:
        st.image(
            charts.enlarged_digit(prediction.input28),
            caption="What the model saw (28×28)",
            width=140,
        )
    if prediction.unsure:
        st.warning(
            "**Unsure**: this does not look clearly like any digit to the model. "
            "If it is one, say which below; that is the most useful label of all.",
            icon=":material/help:",
        )
    label_buttons(predictor, prediction, source, generation_key)
    st.plotly_chart(
        charts.probabilities_figure(prediction.probabilities, prediction.digit),
        config=charts.PLOTLY_CONFIG,
        key=f"probabilities-{source}",
    )
    st.caption(f"{prediction.model_name} · {prediction.latency_ms:.1f} ms")


def label_buttons(
    predictor: Predictor, prediction: Prediction, source: str, generation_key: str
) -> None:
    """Ten buttons `0`…`9`; the model's answer is the highlighted one."""
    generation = st.session_state.get(generation_key, 0)
    request_id = f"{resources.browser_session_id()}:{source}:{generation}"
    st.markdown("**Which digit is it?** One click stores it with that label.")
    with st.container(horizontal=True, gap="small"):
        for digit in range(10):
            st.button(
                str(digit),
                key=f"label-{source}-{digit}",
                type="primary" if digit == prediction.digit else "secondary",
                on_click=_store,
                args=(predictor, prediction, digit, source, generation_key, request_id),
            )


def predict_or_explain(predictor: Predictor, image: Any) -> Prediction | None:
    """The prediction for an image, or None after telling the user why there is none."""
    try:
        return predictor.predict(image)
    except ValueError as error:
        st.error(f"Cannot read this image: {error}", icon=":material/broken_image:")
        return None


@st.fragment
def draw_tab(predictor: Predictor) -> None:
    """A fragment: a stroke, a label or Clear reruns this tab only, not the whole page."""
    show_notice()
    generation = st.session_state.get(CANVAS_GENERATION, 0)
    canvas_column, result_column = st.columns([2, 3], gap="large")
    with canvas_column:
        st.space("small")  # room for the canvas toolbar, which pops up above it on hover
        canvas = drawable_canvas.st_canvas(
            stroke_width=BRUSH_PX,
            stroke_color=INK,
            background_color=PAPER,
            size=CANVAS_PX,
            key="canvas",
            reset=generation,
        )
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption("Draw one digit, large. Hover the canvas for undo and redo.")
            st.button(
                "Clear",
                icon=":material/ink_eraser:",
                key="clear-canvas",
                on_click=_next,
                args=(CANVAS_GENERATION,),
                # No help tooltip: it popped up over the canvas's bottom-right corner
                # after a click and took the next pen-down there.
            )
    prediction = None
    try:
        drawing = resources.canvas_drawing(canvas)
    except ImageReadError as error:
        st.error(f"Cannot read this drawing: {error}", icon=":material/broken_image:")
        drawing = None
    if drawing is not None:
        prediction = predict_or_explain(predictor, drawing)
    with result_column:
        if prediction is None:
            st.info("Draw a digit on the canvas: the prediction appears as you draw.")
        else:
            show_prediction(predictor, prediction, "canvas", CANVAS_GENERATION)


def upload_tab(predictor: Predictor) -> None:
    show_notice()
    generation = st.session_state.get(UPLOAD_GENERATION, 0)
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit",
        type=["png", "jpg", "jpeg"],
        key=f"upload-{generation}",
    )
    if upload is None:
        st.caption("Dark ink on light paper works best; the picture is cropped to the digit.")
        return
    try:
        image = read_image(upload.getvalue(), upload.name)
    except ImageReadError as error:
        st.error(str(error), icon=":material/broken_image:")
        return
    photo_column, result_column = st.columns([2, 3], gap="large")
    with photo_column:
        st.image(image, caption=upload.name, width=280)
    prediction = predict_or_explain(predictor, image)
    with result_column:
        if prediction is None:
            st.info("No digit found in this picture.")
        else:
            show_prediction(predictor, prediction, "upload", UPLOAD_GENERATION)


@st.fragment(run_every=resources.OUTBOX_FLUSH_S)
def store_status() -> None:
    """Whether labels reach the database, and how many wait on this server.

    A fragment that reruns on its own every few seconds: it sends what waits in the
    outbox once the database is back, and the banners follow without a click.
    """
    outbox = resources.feedback_store().flush()
    problem = outbox.problem
    if problem is not None:
        st.warning(
            "**The database is unreachable.** Predictions still work, and your labels are "
            "kept on this server and sent when it is back.\n\n" + problem,
            icon=":material/cloud_off:",
        )
    if outbox.waiting:
        plural = "s wait" if outbox.waiting != 1 else " waits"
        st.info(
            f"**{outbox.waiting} labelled drawing{plural}** on this server to be sent to "
            "the database. Nothing is lost: they go as soon as it answers.",
            icon=":material/cloud_upload:",
        )
    if outbox.rejected:
        st.error(
            f"{outbox.rejected} saved drawing(s) were refused by the database as invalid; "
            f"they are kept in `{outbox.folder}/rejected` with the reason beside each.",
            icon=":material/report:",
        )


title, selector = st.columns([3, 1], vertical_alignment="bottom")
title.title("Draw a digit")
with selector:
    predictor = resources.choose_model(key="draw-model")
store_status()
if predictor is not None:
    drawing, uploading = st.tabs([":material/draw: Draw", ":material/upload: Upload a photo"])
    with drawing:
        draw_tab(predictor)
    with uploading:
        upload_tab(predictor)
