"""A durable local outbox: drawings wait here while the database is away.

Why: people label hundreds of digits in a session, and a database restart must not
cost them one label. `db.feedback.FeedbackStore.submit` stores a submission at once
when it can; when the database cannot be reached it appends it here, a file under
`DIGITLAB_OUTBOX_DIR` fsync'd before returning, so "saved" is true when the user
reads it. `Outbox.flush` replays what waits, oldest first, once the database is
back (the app calls it on the next submit and periodically).

    python -m db.outbox            # how many submissions wait, and where
    python -m db.outbox flush      # send them now (DATABASE_URL)
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from db import repository
from db.engine import session_scope
from db.errors import FeedbackStoreError, first_line
from db.submission import Submission
from settings import get_settings

# "The database cannot take it right now": keep the submission and try again later.
STORE_ERRORS = (FeedbackStoreError, SQLAlchemyError)
# "The database will never take it": retrying would block the queue for ever. Only
# these move a file to rejected/; any other error (a bad setting, say) leaves it be.
UNREADABLE = (KeyError, TypeError, ValueError)  # reading or checking the file
REFUSED = (IntegrityError, DataError)  # the database's constraints said no


@dataclass(frozen=True)
class FlushReport:
    sent: int  # committed (or found already there) and removed from the outbox
    rejected: int  # refused as invalid: moved to rejected/
    waiting: int  # still in the outbox
    problem: str | None = None  # why the flush stopped early (the database is away)


class Outbox:
    """The submissions of one app instance that wait for the database, in a folder.

    Crash safety, step by step:
    - One file per submission: written under `tmp/`, fsync'd, renamed into `pending/`
      (atomic on POSIX), then `pending/` itself is fsync'd so the rename survives a
      power cut. A crash leaves the whole file in `pending/` or nothing, never half.
    - A file is deleted only after the transaction that stored it committed. A crash
      (or a lost commit acknowledgement) between the commit and the delete sends it
      again on the next flush, and `repository.store` is idempotent by
      `client_request_id`: still one row. For the same reason the delete needs no fsync.
    - One flusher at a time: an exclusive `flock` on `outbox.lock`. flock locks belong
      to an open file, so two threads of one process exclude each other exactly like
      two processes do. Whoever holds the lock reads, sends and deletes; nobody can
      send a file twice at once or delete one another flusher has not stored.
    - A submission the database refuses as invalid would block the queue for ever. A
      `Submission` is checked when it is made, so this needs a bug or a hand-edited
      file; such a file moves to `rejected/` with the reason beside it, kept for a
      person to look at, and replay goes on.

    File names start with a nanosecond sequence number, so their sort order is the
    replay order. Each app replica has its own outbox (its own DIGITLAB_HOME) while
    they share one database; idempotence by `client_request_id` makes that safe.
    """

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
        """Write one submission durably at the end of the queue; its file.

        A submission without a time gets this moment's, so that its replay counts on
        the day it was made, not the day it arrived.
        """
        for folder in (self.folder, self.pending_dir, self._tmp_dir):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if submission.created_at is None:
            submission = dataclasses.replace(submission, created_at=datetime.now(UTC))
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
                except UNREADABLE as error:
                    self._reject(path, f"{type(error).__name__}: {error}")
                    rejected += 1
                    continue
                try:
                    with session_scope(url) as session:
                        repository.store(session, submission)
                except REFUSED as error:
                    self._reject(path, f"{type(error).__name__}: {error}")
                    rejected += 1
                    continue
                except STORE_ERRORS as error:
                    return FlushReport(sent, rejected, len(self.waiting()), first_line(error))
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


_sequence_lock = threading.Lock()
_last_sequence = 0


def _next_sequence() -> int:
    """Nanoseconds since the epoch, strictly increasing within this process."""
    global _last_sequence
    with _sequence_lock:
        _last_sequence = max(time.time_ns(), _last_sequence + 1)
        return _last_sequence


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
