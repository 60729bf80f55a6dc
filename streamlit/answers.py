"""The Draw page's answer, from shown to stored.

An answer waits in the browser session until its person labels it or moves on
(Clear, the canvas blanked, another photo): then it is stored, labelled or not. Its
request id names one picture on one blank canvas or uploader, so a rerun or a double
click stores one row. Callbacks leave their toast for the next run (`show_notice`):
one sent from a fragment's callback lands on top of the page and shifts it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import resources
import streamlit as st

from db.feedback import Delivery
from db.submission import Drawing
from model.strokes import CANVAS_SIDE

if TYPE_CHECKING:
    from db.submission import Submission
    from model.predictor import Prediction, Predictor

# Bumping a generation blanks the canvas (in place) / gives the uploader a new key.
GENERATION_KEYS = {"canvas": "canvas_generation", "upload": "upload_generation"}
NOTICE = "draw_notice"  # (text, icon) of a toast a callback asks the next run to show


def generation(source: str) -> int:
    """How many times this canvas or uploader was started afresh in this session."""
    return st.session_state.get(GENERATION_KEYS[source], 0)


def pending(
    predictor: Predictor, prediction: Prediction, source: str, drawing: Drawing | None = None
) -> Submission:
    """The answer now shown, as the store would keep it; kept until labelled or left.

    On the canvas a stroke more is the same drawing going on: the answer it replaces
    is not stored. A photo replaced by another before it was labelled is.
    """
    picture = hashlib.sha256(prediction.input28.tobytes()).hexdigest()[:16]
    request_id = f"{resources.browser_session_id()}:{source}:{generation(source)}:{picture}"
    submission = resources.submission(
        predictor, prediction, source=source, client_request_id=request_id, drawing=drawing
    )
    replaced = st.session_state.get(_pending_key(source))
    st.session_state[_pending_key(source)] = submission
    if source == "upload" and replaced is not None and replaced.client_request_id != request_id:
        _deliver(replaced)
    return submission


def canvas_drawing(strokes: list[list[list[float]]]) -> Drawing | None:
    """The canvas's strokes to store beside the 28x28, or None when the store would refuse them."""
    try:
        return Drawing(strokes=strokes, canvas_width=CANVAS_SIDE, canvas_height=CANVAS_SIDE)
    except ValueError:
        return None


def store_unlabelled(source: str) -> None:
    """The answer shown but never labelled is stored as it is (its person moved on)."""
    left = st.session_state.pop(_pending_key(source), None)
    if left is not None:
        _deliver(left)


def clear_canvas() -> None:
    """Clear button callback: the answer shown is stored unlabelled; the canvas blanked."""
    store_unlabelled("canvas")
    _next("canvas")


def store_labelled(submission: Submission, label: int) -> None:
    """Label button callback: store the answer shown with its label, then start afresh.

    The submission (and its request id) was fixed when the buttons were drawn, so a
    double click sends the same id twice and the store keeps one row.
    """
    st.session_state.pop(_pending_key(submission.source), None)
    delivery = _deliver(submission.labelled(label))
    if delivery is Delivery.NOT_SAVED:
        return
    predicted = submission.predicted_digit
    verdict = "right" if label == predicted else f"it said {predicted}"
    if delivery is Delivery.QUEUED:
        _notice(
            f"Saved as **{label}** ({verdict}) on this server; it will be sent when the "
            "database is back.",
            ":material/cloud_upload:",
        )
    else:
        _notice(f"Saved as **{label}** ({verdict}).", ":material/check_circle:")
    _next(submission.source)


def show_notice() -> None:
    """The toast a callback left for this run, if any."""
    notice = st.session_state.pop(NOTICE, None)
    if notice is not None:
        st.toast(notice[0], icon=notice[1])


def _deliver(submission: Submission) -> Delivery:
    """Submit to the store; a toast (by the next run) when even the local disk refused it."""
    delivery = resources.feedback_store().submit(submission)
    if delivery is Delivery.NOT_SAVED:
        said = "" if submission.true_label is None else f" (you said {submission.true_label})"
        _notice(
            f"Not saved: this server cannot store it right now{said}. Try again in a moment.",
            ":material/error:",
        )
    return delivery


def _next(source: str) -> None:
    st.session_state[GENERATION_KEYS[source]] = generation(source) + 1


def _pending_key(source: str) -> str:
    return f"pending-{source}"


def _notice(text: str, icon: str) -> None:
    st.session_state[NOTICE] = (text, icon)
