"""finetune: too little data touches nothing; one job at a time; the challenger registered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic_people import people_drawings

from db import champion, jobs
from db.engine import session_scope
from db.schema import FinetuneJob
from testing_support.learning_loop import store_labelled

REPO = Path(__file__).resolve().parents[2]
BASE = "lenet5"  # the quickest committed model to fine-tune


def _jobs(url: str) -> list[jobs.Job]:
    import sqlalchemy as sa

    with session_scope(url) as session:
        ids = session.execute(sa.select(FinetuneJob.id).order_by(FinetuneJob.id)).scalars().all()
        return [jobs._one(session, sa.select(FinetuneJob).where(FinetuneJob.id == i)) for i in ids]


def test_a_store_without_labels_says_what_is_missing_and_touches_nothing(cli, store) -> None:
    models = sorted(p.name for p in (REPO / "saved_models").iterdir())
    outcome = cli("finetune", "--base", BASE, "--name", "never-made")
    assert outcome.status == 2
    assert "0 labels from 0 people; need >= 200 from >= 5" in outcome.err
    assert _jobs(store) == []
    assert sorted(p.name for p in (REPO / "saved_models").iterdir()) == models


def test_too_few_people_is_refused_before_a_job_starts(cli, store: str) -> None:
    store_labelled(store, people_drawings(range(3), per_digit=7))  # 210 from 3
    outcome = cli("finetune", "--base", BASE)
    assert outcome.status == 2 and "210 labels from 3 people" in outcome.err
    assert _jobs(store) == []


@pytest.mark.slow
def test_two_finetunes_at_once_one_runs_one_is_refused(store: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".pt", ".json", ".novelty.npz"):
        shutil.copy(REPO / "saved_models" / f"{BASE}{suffix}", models)
    store_labelled(store, people_drawings(range(6), per_digit=4))  # 240 from 6
    env = os.environ | {"DIGITLAB_MODELS_DIR": str(models), "PYTHONPATH": str(REPO)}
    commands = [
        [sys.executable, "run_model.py", "finetune", "--base", BASE, "--name", f"ch-{i}",
         "--report", str(tmp_path / f"report-{i}.json"), "--promote-if-better", "--quiet"]
        for i in (1, 2)
    ]  # fmt: skip
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    runs = [subprocess.Popen(command, cwd=REPO, env=env, **pipes) for command in commands]
    results = [(run.wait(timeout=600), *run.communicate()) for run in runs]
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [0, 2], results
    winner = next(i for i, (status, _, _) in enumerate(results, start=1) if status == 0)
    loser_err = next(err for status, _, err in results if status == 2)
    assert "another fine-tune is running: fine-tune #" in loser_err
    assert not (models / f"ch-{3 - winner}.pt").exists()

    report = json.loads((tmp_path / f"report-{winner}.json").read_text())
    assert report["challenger"]["name"] == f"ch-{winner}"
    assert report["challenger"]["weights"] == str(models / f"ch-{winner}.pt")
    assert report["champion"]["name"] == BASE
    assert report["verdict"] in ("promote", "keep")
    (job,) = _jobs(store)
    assert (job.state, job.progress, job.report) == ("succeeded", 1.0, report)
    with session_scope(store) as session:
        assert jobs.lineage(session) == [(job.base_version_id, job.challenger_version_id)]
        alias = champion.get_alias(session)
    promoted = alias is not None and alias.name == f"ch-{winner}"
    assert promoted == (report["verdict"] == "promote")
