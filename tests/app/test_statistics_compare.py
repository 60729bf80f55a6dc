"""Statistics: two saved models compared on the same labelled drawings, pair by pair."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

import run_model
from db import drawings
from db.engine import session_scope
from model.predictor import Predictor
from testing_support.learning_loop import canvas_line


def test_two_models_answer_the_same_labelled_drawings(
    open_page: Callable[..., AppTest], app_db: str, tmp_path: Path
) -> None:
    lines = [canvas_line(d, f"r-{i}", label=d) for i, d in enumerate([0, 1, 1, 0, 1])]
    lines.append(canvas_line(1, "mislabelled", label=7))  # nobody gets this one right
    file = tmp_path / "drawings.jsonl"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert run_model.main(["import-drawings", str(file)]) == 0

    at = open_page("statistics")
    at.selectbox(key="statistics-second").select("lenet5").run()
    assert not at.exception
    assert any("Two models on the same drawings" in h.value for h in at.subheader)
    shown = {metric.label: metric.value for metric in at.metric}
    with session_scope(app_db) as session:
        stored = drawings.stored_drawings(session, labelled_only=True)
    images = np.stack([np.frombuffer(d.image, np.uint8).reshape(28, 28) for d in stored])
    labels = np.array([d.label for d in stored])
    for predictor in (Predictor.load("resnet"), Predictor.load("lenet5")):
        accuracy = (predictor.predict_batch(images).argmax(1) == labels).mean()
        assert shown[predictor.name] == f"{accuracy:.1%}"
