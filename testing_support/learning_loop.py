"""Learning-loop test data: JSON Lines of drawings, stored people, comparison reports.

Shared by tests/loop (the command line) and tests/app (the dashboard) so both use
the same drawings and the same kind of evidence.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
from PIL import Image

from db import repository
from db.engine import session_scope
from db.submission import Drawing, Submission
from model.strokes import CANVAS_SIDE, render_strokes
from testing_support.digit_paths import one_strokes, zero_strokes
from testing_support.feedback import model_identity


def png_base64(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def canvas_line(digit: int, request_id: str | None, **fields: Any) -> str:
    """A 0 or a 1 drawn on a 280x280 canvas, as one line of the import file."""
    strokes = {0: zero_strokes, 1: one_strokes}[digit]()
    canvas = render_strokes([np.asarray(s) for s in strokes], CANVAS_SIDE, 18.0)
    values = {
        "image_png": png_base64(canvas), "label": digit, "session": "person-a",
        "strokes": [[list(point) for point in stroke] for stroke in strokes],
        "canvas_size": [CANVAS_SIDE, CANVAS_SIDE], "created_at": "2026-05-01T10:00:00+00:00",
        "request_id": request_id,
    }  # fmt: skip
    return json.dumps({k: v for k, v in (values | fields).items() if v is not None})


def a_version(url: str, name: str = "test-model") -> int:
    """A registered model version (no weights file behind it) for rows to point at."""
    with session_scope(url) as session:
        return repository.register_model_version(session, model_identity(name))


def store_labelled(url: str, labelled: Any, version_name: str = "test-model") -> None:
    """`model.finetune.LabelledDrawings` straight into the store (no model involved)."""
    model = model_identity(version_name)
    with session_scope(url) as session:
        for i, label in enumerate(labelled.labels):
            width, height = labelled.canvas_sizes[i]
            submission = Submission(
                client_request_id=f"synthetic-{i}", model=model, predicted_digit=int(label),
                confidence=0.1, probabilities=[0.1] * 10, unsure=True,
                image=labelled.images[i].tobytes(), true_label=int(label),
                session_id=labelled.people[i], created_at=labelled.created_at[i],
                drawing=Drawing(
                    strokes=labelled.strokes[i], canvas_width=width, canvas_height=height
                ),
            )  # fmt: skip
            repository.store(session, submission)


def report_json(champion: str, challenger: str, *, better: bool) -> dict[str, Any]:
    """A genuine comparison report: on 200 held-out drawings the challenger fixes 30
    of the champion's errors (better) or breaks 30 of its right answers (not)."""
    from model.compare import ModelRef, promotion_report

    labels = np.arange(200) % 10
    champion_digits, challenger_digits = labels.copy(), labels.copy()
    worse = challenger_digits if not better else champion_digits
    worse[:30] = (labels[:30] + 1) % 10
    mnist = np.arange(1000) % 10
    report = promotion_report(
        ModelRef(champion, f"saved_models/{champion}.pt"),
        ModelRef(challenger, f"saved_models/{challenger}.pt"),
        held_out=(labels, champion_digits, challenger_digits),
        mnist_test=(mnist, mnist, mnist),
    )
    return report.to_json()


def fine_tuned(url: str, base: str, challenger: str, report: dict[str, Any]) -> None:
    """A finished fine-tune job that made `challenger` from `base` (both in saved_models/),
    as `run_model.py finetune` leaves it in the store."""
    import run_model
    from db import jobs

    with session_scope(url) as session:
        job = jobs.claim_job(session, host="test")
        jobs.finish_job(
            session, job, succeeded=True, message=report["reason"],
            base_version_id=run_model._registered(session, base),
            challenger_version_id=run_model._registered(session, challenger), report=report,
        )  # fmt: skip
