"""Draw: sketch a digit, watch the prediction follow every stroke, label it in one click.

Layout. The flow a user sees: draw -> the answer updates on pen-up (no button) ->
press the digit they meant -> it is stored with that label and its strokes, a toast
confirms, and the canvas is blank for the next one. Nothing is stored while only
drawing; an answer left without a label (Clear, the canvas's own reset, a photo
replaced or removed) is stored unlabelled (`answers.py`). The upload tab is the same
flow for a photo of a digit on paper.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import answers
import charts
import drawable_canvas
import resources
import streamlit as st

from model.image_io import ImageReadError, read_image
from model.strokes import CANVAS_SIDE

if TYPE_CHECKING:
    from db.submission import Submission
    from model.predictor import Prediction, Predictor

# MNIST strokes are ~2-3 px in a 20 px digit box: ~1/8 of the digit's height. A
# digit drawn across most of a 280 px canvas gets the same proportion from ~18 px.
BRUSH_PX = 18
INK = "#ffffff"
PAPER = "#000000"

# An unsure answer names the runner-up when it is at least this likely: one chance in
# six or more is a real alternative, not noise in the probabilities.
NAMED_RUNNER_UP = 0.15


def show_prediction(submission: Submission, prediction: Prediction) -> None:
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
        st.warning(_unsure_reason(prediction), icon=":material/help:")
    label_buttons(submission)
    st.plotly_chart(
        charts.probabilities_figure(prediction.probabilities, prediction.digit),
        config=charts.PLOTLY_CONFIG,
        key=f"probabilities-{submission.source}",
    )
    st.caption(f"{prediction.model_name} · {prediction.latency_ms:.1f} ms")


def _unsure_reason(prediction: Prediction) -> str:
    """Why the answer comes flagged: torn between two digits, or like none it knows."""
    second, chance = prediction.runner_up
    if chance >= NAMED_RUNNER_UP:
        reason = f"it could as well be a **{second}** ({chance:.0%})"
    else:
        reason = "this does not look clearly like any digit to the model"
    return (
        f"**Unsure**: {reason}. If it is a digit, say which below; that is the most "
        "useful label of all."
    )


def label_buttons(submission: Submission) -> None:
    """Ten buttons `0`…`9`; the model's answer is the highlighted one."""
    st.markdown("**Which digit is it?** One click stores it with that label.")
    with st.container(horizontal=True, gap="small"):
        for digit in range(10):
            st.button(
                str(digit),
                key=f"label-{submission.source}-{digit}",
                type="primary" if digit == submission.predicted_digit else "secondary",
                on_click=answers.store_labelled,
                args=(submission, digit),
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
    resources.follow_the_champion(predictor.name)
    answers.show_notice()
    canvas_column, result_column = st.columns([2, 3], gap="large")
    with canvas_column:
        st.space("small")  # room for the canvas toolbar, which pops up above it on hover
        canvas = drawable_canvas.st_canvas(
            stroke_width=BRUSH_PX,
            stroke_color=INK,
            background_color=PAPER,
            size=CANVAS_SIDE,
            key="canvas",
            reset=answers.generation("canvas"),
        )
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption("Draw one digit, large. Hover the canvas for undo and redo.")
            # No help tooltip: it popped up over the canvas's bottom-right corner
            # after a click and took the next pen-down there.
            st.button(
                "Clear",
                icon=":material/ink_eraser:",
                key="clear-canvas",
                on_click=answers.clear_canvas,
            )
    prediction = canvas_prediction(predictor, canvas)
    with result_column:
        if prediction is None:
            st.info("Draw a digit on the canvas: the prediction appears as you draw.")
        else:
            drawing = answers.canvas_drawing(canvas.strokes)
            show_prediction(answers.pending(predictor, prediction, "canvas", drawing), prediction)


def canvas_prediction(
    predictor: Predictor, canvas: drawable_canvas.CanvasDrawing
) -> Prediction | None:
    """The answer for the drawing on the canvas; None when it is blank or unreadable.

    A canvas blanked by its own toolbar (reset, or undo to nothing) leaves the last
    answer behind unlabelled: it is stored as such.
    """
    try:
        image = resources.canvas_drawing(canvas)
    except ImageReadError as error:
        st.error(f"Cannot read this drawing: {error}", icon=":material/broken_image:")
        return None
    if image is None:
        answers.store_unlabelled("canvas")
        return None
    return predict_or_explain(predictor, image)


def upload_tab(predictor: Predictor) -> None:
    """A photo instead of a drawing; replacing or removing it stores the last answer unlabelled."""
    upload = st.file_uploader(
        "A photo or scan of one handwritten digit",
        type=["png", "jpg", "jpeg"],
        key=f"upload-{answers.generation('upload')}",
    )
    if upload is None:
        answers.store_unlabelled("upload")
        st.caption("Dark ink on light paper works best; the picture is cropped to the digit.")
        return
    try:
        image = read_image(upload.getvalue(), upload.name)
    except ImageReadError as error:
        answers.store_unlabelled("upload")
        st.error(str(error), icon=":material/broken_image:")
        return
    photo_column, result_column = st.columns([2, 3], gap="large")
    with photo_column:
        st.image(image, caption=upload.name, width=CANVAS_SIDE)
    prediction = predict_or_explain(predictor, image)
    with result_column:
        if prediction is None:
            answers.store_unlabelled("upload")
            st.info("No digit found in this picture.")
            return
        show_prediction(answers.pending(predictor, prediction, "upload"), prediction)


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
            f"**{outbox.waiting} drawing{plural}** (labelled or not) on this server to be sent to "
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
