"""Fine-tune jobs: one at a time across every replica, with progress and a log.

`claim_job` inserts a "running" row; a partial unique index allows one such row, so
of two starts racing (two replicas, two terminals) exactly one wins and the other
gets `JobBusyError` naming the running job. A job whose process died stops sending
heartbeats; after `STALE_AFTER` the next claim marks it failed and takes over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from db import validation as check
from db.schema import FinetuneJob

STALE_AFTER = timedelta(minutes=2)
JOB_COLUMNS = (
    "id", "state", "started_at", "heartbeat_at", "finished_at", "progress", "message",
    "host", "pid", "log_path", "base_version_id", "challenger_version_id", "report",
)  # fmt: skip


class JobBusyError(RuntimeError):
    """Another fine-tune is running; the message says which, and since when."""


@dataclass(frozen=True)
class Job:
    id: int
    state: str
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    progress: float
    message: str | None
    host: str
    pid: int | None
    log_path: str | None
    base_version_id: int | None
    challenger_version_id: int | None
    report: dict[str, Any] | None

    def describe(self) -> str:
        started = self.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        where = f"started {started} on {self.host}"
        return f"fine-tune #{self.id} ({self.state}, {self.progress:.0%}; {where})"


def claim_job(
    session: Session, *, host: str, pid: int | None = None, log_path: str | None = None
) -> int:
    """Start a job and return its id; `JobBusyError` if another one is running."""
    now = datetime.now(UTC)
    _fail_stale(session, now)
    values = {
        "state": "running", "started_at": now, "heartbeat_at": now, "progress": 0.0,
        "host": check.text(host, "host", 255), "pid": pid, "log_path": log_path,
    }  # fmt: skip
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(FinetuneJob).on_conflict_do_nothing(
        index_elements=["state"], index_where=FinetuneJob.state == "running"
    )
    job_id = session.execute(statement.values(**values).returning(FinetuneJob.id)).scalar()
    if job_id is None:
        running = running_job(session)
        raise JobBusyError(
            f"another fine-tune is running: {running.describe() if running else 'just started'}. "
            "Wait for it to finish (one at a time)."
        )
    return int(job_id)


def update_job(
    session: Session, job_id: int, *, progress: float | None = None, message: str | None = None,
    pid: int | None = None, log_path: str | None = None,
) -> None:  # fmt: skip
    """Heartbeat, with whatever changed (progress 0..1, a status line, the process)."""
    values: dict[str, Any] = {"heartbeat_at": datetime.now(UTC)}
    if progress is not None:
        values["progress"] = check.fraction(progress, "progress")
    values |= {k: v for k, v in (("message", message), ("pid", pid), ("log_path", log_path)) if v}
    _update(session, job_id, values, running_only=True)


def finish_job(
    session: Session, job_id: int, *, succeeded: bool, message: str,
    base_version_id: int | None = None, challenger_version_id: int | None = None,
    report: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    """Mark the job succeeded or failed, with its outcome."""
    now = datetime.now(UTC)
    values = {
        "state": "succeeded" if succeeded else "failed", "finished_at": now,
        "heartbeat_at": now, "message": message, "base_version_id": base_version_id,
        "challenger_version_id": challenger_version_id, "report": report,
    }  # fmt: skip
    if succeeded:
        values["progress"] = 1.0
    _update(session, job_id, values, running_only=False)


def running_job(session: Session) -> Job | None:
    return _one(session, sa.select(FinetuneJob).where(FinetuneJob.state == "running"))


def latest_job(session: Session) -> Job | None:
    return _one(session, sa.select(FinetuneJob).order_by(FinetuneJob.id.desc()).limit(1))


def latest_succeeded(session: Session) -> Job | None:
    query = sa.select(FinetuneJob).where(FinetuneJob.state == "succeeded")
    return _one(session, query.order_by(FinetuneJob.id.desc()).limit(1))


def report_for(session: Session, challenger_version_id: int) -> dict[str, Any] | None:
    """The report of the latest successful fine-tune that produced this version."""
    job = _one(
        session,
        sa.select(FinetuneJob)
        .where(FinetuneJob.challenger_version_id == challenger_version_id)
        .where(FinetuneJob.state == "succeeded")
        .order_by(FinetuneJob.id.desc())
        .limit(1),
    )
    return None if job is None else job.report


def lineage(session: Session) -> list[tuple[int, int]]:
    """(base version id, fine-tuned version id) for every successful fine-tune."""
    rows = session.execute(
        sa.select(FinetuneJob.base_version_id, FinetuneJob.challenger_version_id)
        .where(FinetuneJob.state == "succeeded")
        .where(FinetuneJob.challenger_version_id.is_not(None))
        .order_by(FinetuneJob.id)
    ).all()
    return [(int(b), int(c)) for b, c in rows if b is not None]


def _fail_stale(session: Session, now: datetime) -> None:
    session.execute(
        sa.update(FinetuneJob)
        .where(FinetuneJob.state == "running", FinetuneJob.heartbeat_at < now - STALE_AFTER)
        .values(state="failed", finished_at=now, message="abandoned: its process stopped reporting")
    )


def _update(session: Session, job_id: int, values: dict[str, Any], *, running_only: bool) -> None:
    identifier = check.whole_number(job_id, "job_id")
    statement = sa.update(FinetuneJob).where(FinetuneJob.id == identifier)
    if running_only:
        statement = statement.where(FinetuneJob.state == "running")
    if session.execute(statement.values(**values)).rowcount == 0:  # type: ignore[attr-defined]
        raise ValueError(f"no running fine-tune job with id {identifier}")


def _one(session: Session, query: sa.Select[Any]) -> Job | None:
    row = session.execute(query).scalars().first()
    return None if row is None else Job(**{c: getattr(row, c) for c in JOB_COLUMNS})
