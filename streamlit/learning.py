"""What the dashboard's learning-loop parts do: versions, jobs, promotion, suspicious
labels, two models compared on the same labelled drawings.

Not layout (the pages place things), and no decisions of its own: the gate and the
promotion are `run_model.promote` / `run_model.promotion_gate`, the same code the
command line runs; a fine-tune is `python run_model.py finetune` in a process of its
own, so it outlives page switches, reloads and even this server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import resources
import streamlit as st

import run_model
from db import champion, drawings, jobs, repository
from db.engine import session_scope
from model.compare import ComparisonReport
from settings import REPO_ROOT, get_settings

if TYPE_CHECKING:
    from model.compare import SetComparison

LOG_TAIL_BYTES = 6000


@dataclass(frozen=True)
class Challenger:
    """The latest fine-tune's challenger and whether the gate lets it replace the champion."""

    name: str
    version_id: int
    report: ComparisonReport
    promotable: bool
    reason: str
    serving: bool  # it is the champion already


def versions_and_lineage(session) -> pd.DataFrame:
    """Every model version with the version it was fine-tuned from, and the champion marked."""
    versions = repository.list_model_versions(session)
    names = dict(zip(versions["id"], versions["name"], strict=True))
    base_of = {child: base for base, child in jobs.lineage(session)}
    alias = champion.get_alias(session)
    return versions.assign(
        base=[names.get(base_of.get(v), "") for v in versions["id"]],
        champion=[alias is not None and v == alias.model_version_id for v in versions["id"]],
    )


def latest_challenger(session) -> Challenger | None:
    """The challenger of the newest successful fine-tune, judged against today's champion."""
    job = jobs.latest_succeeded(session)
    if job is None or job.report is None or job.challenger_version_id is None:
        return None
    report = ComparisonReport.from_json(job.report)
    name = report.challenger.name
    alias = champion.get_alias(session)
    serving = alias is not None and alias.model_version_id == job.challenger_version_id
    gate = run_model.promotion_gate(session, name, job.challenger_version_id)
    return Challenger(name, job.challenger_version_id, report, gate.allowed, gate.reason, serving)


def start_finetune(exclude_suspicious: bool) -> str:
    """Claim the one fine-tune slot and start `run_model.py finetune` in the background.

    Returns what happened, in words; raises `jobs.JobBusyError` while another runs.
    """
    log_dir = get_settings().home / "finetune"
    log_dir.mkdir(parents=True, exist_ok=True)
    with session_scope() as session:
        job_id = jobs.claim_job(session, host=socket.gethostname())
    log_path = log_dir / f"job-{job_id}.log"
    with session_scope() as session:  # before the process starts: it reads its log from there
        jobs.update_job(session, job_id, log_path=str(log_path))
    command = [sys.executable, str(REPO_ROOT / "run_model.py"), "finetune", "--job", str(job_id)]
    if exclude_suspicious:
        command.append("--exclude-suspicious")
    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy(),
            )  # fmt: skip
    except OSError as error:
        with session_scope() as session:
            jobs.finish_job(session, job_id, succeeded=False, message=f"could not start: {error}")
        raise
    with session_scope() as session:
        jobs.update_job(session, job_id, pid=process.pid)
    return f"Fine-tune #{job_id} started (process {process.pid})."


def log_tail(job: jobs.Job) -> str | None:
    """The end of the job's log, when this server can read it (None: another replica's)."""
    if job.log_path is None or not Path(job.log_path).is_file():
        return None
    with open(job.log_path, "rb") as log:
        log.seek(0, 2)
        log.seek(max(0, log.tell() - LOG_TAIL_BYTES))
        text = log.read().decode("utf-8", "replace")
    return "\n".join(line.split("\r")[-1] for line in text.splitlines()[-30:])


def suspicious_first(rows: pd.DataFrame) -> pd.DataFrame:
    """The labelled rows whose label the serving model finds unlikely, most suspicious first."""
    labelled = rows[rows["true_label"].notna()]
    if labelled.empty:
        return labelled
    order = _suspicious_order(
        resources.serving_choice().name,
        tuple(int(i) for i in labelled["id"]),
        tuple(int(x) for x in labelled["true_label"]),
        b"".join(labelled["image"]),
    )
    return labelled.iloc[list(order)]


@st.cache_data(show_spinner="Asking the champion which labels look wrong…", max_entries=4)
def _suspicious_order(model: str, ids: tuple, labels: tuple, images: bytes) -> np.ndarray:
    from model.label_issues import suspicious_label_ranking

    batch = np.frombuffer(images, np.uint8).reshape(-1, 28, 28)
    probabilities = resources.load_predictor(model).predict_batch(batch)
    return suspicious_label_ranking(probabilities, np.asarray(labels))


def compare_on_labels(first: str, second: str) -> SetComparison | None:
    """Two saved models on every labelled drawing in the store, pair by pair (None: no labels)."""
    rows = resources.read(drawings.stored_drawings, labelled_only=True)
    if not rows:
        return None
    return _paired(
        first, second, b"".join(r.image for r in rows), tuple(int(r.label) for r in rows)
    )


@st.cache_data(show_spinner="Scoring the labelled drawings with both models…", max_entries=4)
def _paired(first: str, second: str, images: bytes, labels: tuple) -> SetComparison:
    from model.compare import SetComparison

    batch = np.frombuffer(images, np.uint8).reshape(-1, 28, 28)
    digits = [resources.load_predictor(n).predict_batch(batch).argmax(1) for n in (first, second)]
    return SetComparison.measure(np.asarray(labels), *digits)
