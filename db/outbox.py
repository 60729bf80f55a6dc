"""A durable local outbox: labelled drawings wait here while the database is away.

Why: people label hundreds of digits in a session, and a database restart must not
cost them one label. `submit` stores a submission at once when it can; when the
database cannot be reached it writes the submission to a file under
`DIGITLAB_OUTBOX_DIR` and fsyncs it before returning, so "saved" is true when the
user reads it. `Outbox.flush` replays what waits, oldest first, once the database
is back (the app calls it on the next submit and periodically).

Crash safety, step by step:
- One file per submission: written under `tmp/`, fsync'd, renamed into `pending/`
  (atomic on POSIX), then `pending/` itself is fsync'd so the rename survives a power
  cut. A crash leaves the whole file in `pending/` or nothing, never half of one.
- A file is deleted only after the transaction that stored it committed. A crash (or
  a lost commit acknowledgement) between the commit and the delete sends it again on
  the next flush, and `log_prediction` is idempotent by `client_request_id`: still
  one row. For the same reason the delete needs no fsync.
- One flusher at a time: an exclusive `flock` on `outbox.lock`. flock locks belong to
  an open file, so two threads of one process exclude each other exactly like two
  processes do. Whoever holds the lock reads, sends and deletes; nobody can send a
  file twice at once or delete one another flusher has not stored.
- A submission the database refuses as invalid (ValueError) would block the queue
  for ever. `submit` checks everything before queueing, so this needs a bug or a
  hand-edited file; such a file moves to `rejected/` with the reason beside it, kept
  for a person to look at, and replay goes on.

File names start with a nanosecond sequence number, so their sort order is the
replay order. Each app replica has its own outbox (its own DIGITLAB_HOME) while they
share one database; idempotence by `client_request_id` makes that safe.

    python -m db.outbox            # how many submissions wait, and where
    python -m db.outbox flush      # send them now (DATABASE_URL)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import enum
import fcntl
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from db import repository
from db import validation as check
from db.engine import session_scope
from db.errors import FeedbackStoreError
from settings import get_settings

FORMAT_VERSION = 1
# "The database cannot take it right now": keep the submission and try again later.
STORE_ERRORS = (FeedbackStoreError, SQLAlchemyError)
# "The database will never take it": retrying would block the queue for ever. Only
# these move a file to rejected/; any other error (a bad setting, say) leaves it be.
UNREADABLE = (KeyError, TypeError, ValueError)  # reading or checking the file
REFUSED = (IntegrityError, DataError)  # the database's constraints said no


class Delivery(enum.StrEnum):
    """Where a submission ended up."""

    STORED = "stored"  # committed in the database
    QUEUED = "queued"  # fsync'd in the outbox; sent when the database is back
    NOT_SAVED = "not_saved"  # for callers: not even the outbox could take it


@dataclass(frozen=True)
class Submission:
    """One labelled prediction in plain values: what the outbox writes and replays.

    It carries the model version too, so that a replay can register it: the database
    may have been empty (or another one) when the drawing was made.
    """

    client_request_id: str
    model_name: str
    architecture: str
    weights_sha256: str
    parameter_count: int
    test_accuracy: float | None
    card: dict[str, Any]
    predicted_digit: int
    confidence: float
    probabilities: list[float]
    image: bytes
    source: str
    unsure: bool
    latency_ms: float | None
    session_id: str | None
    true_label: int | None  # None: an unlabelled prediction
    submitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def validate(self) -> None:
        """Raise ValueError now for anything the database would refuse later.

        The same checks `db.repository` runs, so a queued submission can always be
        sent once the database is back; a bad one is refused before it is queued.
        """
        check.text(self.client_request_id, "client_request_id", 64)
        check.text(self.model_name, "name", 200)
        check.text(self.architecture, "architecture", 50)
        check.sha256(self.weights_sha256)
        check.whole_number(self.parameter_count, "parameter_count", minimum=0)
        if self.test_accuracy is not None:
            check.fraction(self.test_accuracy, "test_accuracy")
        check.json_object(self.card, "card")
        check.digit(self.predicted_digit, "predicted_digit")
        check.fraction(self.confidence, "confidence")
        check.probabilities(self.probabilities)
        check.image_bytes(self.image)
        check.source(self.source)
        check.optional_latency(self.latency_ms)
        check.text(self.session_id, "session_id", 64, optional=True)
        if self.true_label is not None:
            check.digit(self.true_label, "true_label")
        check.moment(self.submitted_at, "submitted_at")

    def to_json(self) -> bytes:
        record = asdict(self)
        record["image"] = base64.b64encode(self.image).decode("ascii")
        record["submitted_at"] = self.submitted_at.isoformat()
        document = {"format": FORMAT_VERSION, "submission": record}
        return json.dumps(document, allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Submission:
        """Read a file `to_json` wrote; ValueError, KeyError or TypeError if it is not one."""
        document = json.loads(data)
        if document.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown outbox format {document.get('format')!r}")
        record = dict(document["submission"])
        record["image"] = base64.b64decode(record["image"], validate=True)
        record["submitted_at"] = datetime.fromisoformat(record["submitted_at"])
        return cls(**record)


def store_submission(session: Session, submission: Submission, *, replayed: bool = False) -> int:
    """Register the model version and log the labelled prediction; the prediction's id.

    Call it inside one `session_scope()`: a submission is all there or not at all.
    A replayed submission keeps the time it was made; a direct one gets the
    database's clock, as every other row does.
    """
    version_id = repository.register_model_version(
        session,
        name=submission.model_name,
        architecture=submission.architecture,
        weights_sha256=submission.weights_sha256,
        parameter_count=submission.parameter_count,
        test_accuracy=submission.test_accuracy,
        card=submission.card,
    )
    return repository.log_prediction(
        session,
        model_version_id=version_id,
        predicted_digit=submission.predicted_digit,
        confidence=submission.confidence,
        probabilities=submission.probabilities,
        image=submission.image,
        source=submission.source,
        unsure=submission.unsure,
        latency_ms=submission.latency_ms,
        session_id=submission.session_id,
        client_request_id=submission.client_request_id,
        true_label=submission.true_label,
        created_at=submission.submitted_at if replayed else None,
    )


@dataclass(frozen=True)
class FlushReport:
    sent: int  # committed (or found already there) and removed from the outbox
    rejected: int  # refused as invalid: moved to rejected/
    waiting: int  # still in the outbox
    problem: str | None = None  # why the flush stopped early (the database is away)


class Outbox:
    """The submissions of one app instance that wait for the database, in a folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.pending_dir = self.folder / "pending"
        self.rejected_dir = self.folder / "rejected"
        self._tmp_dir = self.folder / "tmp"

    @classmethod
    def from_settings(cls) -> Outbox:
        return cls(get_settings().outbox_dir)

    def waiting(self) -> list[Path]:
        """The files waiting to be sent, in replay order."""
        return _json_files(self.pending_dir)

    def rejected(self) -> list[Path]:
        return _json_files(self.rejected_dir)

    def append(self, submission: Submission) -> Path:
        """Write one submission durably at the end of the queue; its file."""
        for folder in (self.folder, self.pending_dir, self._tmp_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{_next_sequence():020d}-{uuid.uuid4().hex}.json"
        temporary = self._tmp_dir / name
        _write_durably(temporary, submission.to_json())
        os.replace(temporary, self.pending_dir / name)
        _fsync_folder(self.pending_dir)
        return self.pending_dir / name

    def flush(self, url: str | None = None) -> FlushReport:
        """Send what waits, oldest first, each in its own transaction; stop at an outage."""
        sent = rejected = 0
        with self._exclusive():
            for path in self.waiting():
                try:
                    submission = Submission.from_json(path.read_bytes())
                    submission.validate()
                except UNREADABLE as error:
                    self._reject(path, f"{type(error).__name__}: {error}")
                    rejected += 1
                    continue
                try:
                    with session_scope(url) as session:
                        store_submission(session, submission, replayed=True)
                except REFUSED as error:
                    self._reject(path, f"{type(error).__name__}: {error}")
                    rejected += 1
                    continue
                except STORE_ERRORS as error:
                    return FlushReport(sent, rejected, len(self.waiting()), _first_line(error))
                path.unlink()
                sent += 1
        return FlushReport(sent, rejected, len(self.waiting()))

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.folder / "outbox.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _reject(self, path: Path, reason: str) -> None:
        self.rejected_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.rejected_dir / f"{path.stem}.reason.txt").write_text(reason + "\n")
        os.replace(path, self.rejected_dir / path.name)


def submit(
    submission: Submission, outbox: Outbox, url: str | None = None, *, try_database: bool = True
) -> Delivery:
    """Store a labelled prediction now, or queue it durably: STORED or QUEUED, never lost.

    Order is kept: while older submissions wait, a new one queues behind them and the
    queue is flushed. `try_database=False` (the caller already knows the database is
    away) queues without waiting for a connection to fail. Raises ValueError for an
    invalid submission (nothing is written anywhere; if only the database's own
    constraints catch it, it is kept in rejected/) and OSError when even the local
    disk refuses it.
    """
    submission.validate()
    if try_database and not outbox.waiting():
        try:
            with session_scope(url) as session:
                store_submission(session, submission)
        except STORE_ERRORS:
            pass  # the database is away: queue it below
        else:
            return Delivery.STORED
    path = outbox.append(submission)
    if try_database:
        outbox.flush(url)
    if path.exists():
        return Delivery.QUEUED
    refusal = outbox.rejected_dir / f"{path.stem}.reason.txt"
    if refusal.exists():  # the database refused what validate() let through
        raise ValueError(f"the database refused this submission: {refusal.read_text().strip()}")
    return Delivery.STORED


_sequence_lock = threading.Lock()
_last_sequence = 0


def _next_sequence() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(time.time_ns(), _last_sequence + 1)
        return _last_sequence


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _json_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix == ".json")


def _write_durably(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.outbox", description="Labelled drawings waiting for the database."
    )
    parser.add_argument("command", nargs="?", choices=("status", "flush"), default="status")
    args = parser.parse_args(argv)
    outbox = Outbox.from_settings()
    if args.command == "flush":
        report = outbox.flush()
        print(f"sent {report.sent}, rejected {report.rejected}, waiting {report.waiting}")
        if report.problem:
            print(f"error: stopped early: {report.problem}", file=sys.stderr)
            return 1
        return 0
    print(f"{len(outbox.waiting())} waiting in {outbox.pending_dir}")
    if outbox.rejected():
        print(f"{len(outbox.rejected())} rejected in {outbox.rejected_dir} (reasons beside them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
