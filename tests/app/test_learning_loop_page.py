"""Model page, learning loop: versions and lineage, the evidence, one-click promotion,
a fine-tune started in the background (one at a time across replicas)."""

from __future__ import annotations

import time
from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from db import champion, jobs
from db.engine import session_scope
from testing_support.learning_loop import fine_tuned, report_json


def _champion(url: str) -> str | None:
    with session_scope(url) as session:
        alias = champion.get_alias(session)
    return None if alias is None else alias.name


def test_shows_lineage_and_evidence_and_promotes_in_one_click(
    open_page: Callable[..., AppTest], app_db: str
) -> None:
    fine_tuned(app_db, "resnet", "cnn", report_json("resnet", "cnn", better=True))
    at = open_page("model")
    (versions,) = [frame.value for frame in at.dataframe if "base" in frame.value]
    lineage = dict(zip(versions["name"], versions["base"], strict=True))
    assert lineage == {"cnn": "resnet", "resnet": ""}
    assert any("Last challenger: cnn against resnet" in h.value for h in at.subheader)
    assert any(s.value.startswith("**Promote**: better on held-out people") for s in at.success)
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["resnet, held-out people"] == "85.00%"
    assert shown["cnn, held-out people"] == "100.00%"

    at.button(key="loop-promote").click().run()
    assert not at.exception
    assert _champion(app_db) == "cnn"
    assert any("cnn is the champion now" in toast.value for toast in at.toast)
    assert at.selectbox(key="model-page-model").value == "cnn"  # served on the next run


def test_no_promote_button_when_the_gate_says_keep(
    open_page: Callable[..., AppTest], app_db: str
) -> None:
    fine_tuned(app_db, "resnet", "cnn", report_json("resnet", "cnn", better=False))
    at = open_page("model")
    assert any(w.value.startswith("**Keep**: not better") for w in at.warning)
    assert not [b for b in at.button if b.key == "loop-promote"]


def test_a_second_fine_tune_is_refused_while_one_runs(
    open_page: Callable[..., AppTest], app_db: str
) -> None:
    with session_scope(app_db) as session:
        running = jobs.claim_job(session, host="another-replica")
    at = open_page("model")
    at.button(key="loop-start").click().run()
    assert any(f"another fine-tune is running: fine-tune #{running}" in w.value for w in at.warning)
    with session_scope(app_db) as session:
        assert jobs.latest_job(session).id == running


def test_a_fine_tune_runs_in_the_background_and_reports_its_end(
    open_page: Callable[..., AppTest], app_db: str
) -> None:
    at = open_page("model")
    at.button(key="loop-start").click().run()
    assert any("started (process" in toast.value for toast in at.toast)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with session_scope(app_db) as session:
            job = jobs.latest_job(session)
        if job.state != "running":
            break
        time.sleep(1)
    assert job.state == "failed"  # an empty store: nothing to learn from, said plainly
    assert "0 labels from 0 people" in job.message
    at.run()
    assert any("0 labels from 0 people" in e.value for e in at.error)
    assert any(e.label.startswith(f"Log of fine-tune #{job.id}") for e in at.expander)
