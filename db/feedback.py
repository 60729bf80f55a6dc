"""The feedback store as the app uses it: the database when it answers, the outbox when not.

`FeedbackStore` owns two things a server shares between all its sessions: this
server's outbox (`db.outbox`) and the verdict "can the database be used right now?".
The verdict is checked (bringing the database to head the first time) at most every
`recheck_after_s`, and set at once by what a submit, a flush or a session meets: when
the server is down, every stroke would otherwise wait for a connection timeout.

    store = FeedbackStore.from_settings()
    store.submit(submission)        # STORED, QUEUED (safe on disk) or NOT_SAVED
    store.submit(submission.labelled(7))   # the same drawing, labelled later
    store.flush().waiting           # send what waits; how many are left
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from db import repository
from db.engine import check_connection, session_scope
from db.errors import first_line
from db.migrate import upgrade_to_head
from db.outbox import REFUSED, STORE_ERRORS, Outbox
from db.submission import Submission
from settings import get_settings

RECHECK_AFTER_S = 15.0
log = logging.getLogger(__name__)


class Delivery(enum.StrEnum):
    """Where a submission ended up."""

    STORED = "stored"  # committed in the database
    QUEUED = "queued"  # fsync'd in the outbox; sent when the database is back
    NOT_SAVED = "not_saved"  # not even the outbox could take it (the reason is logged)


@dataclass(frozen=True)
class StoreStatus:
    problem: str | None  # why the database cannot be used now; None when it can
    waiting: int  # submissions in the outbox, not yet in the database
    rejected: int  # refused by the database as invalid, kept on disk for a person
    folder: str  # the outbox


class FeedbackStore:
    """One server's way into the feedback store; safe to share between threads."""

    def __init__(
        self,
        outbox: Outbox,
        url: str | None = None,
        *,
        migration_url: str | None = None,
        recheck_after_s: float = RECHECK_AFTER_S,
    ) -> None:
        settings = get_settings()
        self.outbox = outbox
        self.url = url or settings.database_url
        self.migration_url = migration_url or (url if url else settings.migration_url)
        self.recheck_after_s = recheck_after_s
        self._verdict: tuple[float, str | None] | None = None  # (when, problem)
        self._migrated = False
        self._checking = threading.Lock()

    @classmethod
    def from_settings(cls) -> FeedbackStore:
        return cls(Outbox.from_settings())

    def problem(self) -> str | None:
        """Why the database cannot be used right now, or None when it can."""
        if not self._fresh():
            with self._checking:  # one check at a time; the others take its verdict
                if not self._fresh():
                    self._judge(self._check())
        return self._verdict[1] if self._verdict else None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction (`session_scope`); a failure to reach the database sets the verdict."""
        try:
            with session_scope(self.url) as session:
                yield session
        except REFUSED:
            raise  # the database answered: it said no to this change
        except STORE_ERRORS as error:
            self._judge(first_line(error))
            raise

    def submit(self, submission: Submission) -> Delivery:
        """Store a submission now, or queue it durably: STORED or QUEUED, never lost.

        Order is kept: while older submissions wait, a new one queues behind them and
        the queue is flushed. NOT_SAVED only when the local disk refused it, or the
        database refused what the Submission's checks let through (both logged).
        """
        try:
            return self._deliver(submission)
        except OSError:
            log.exception("could not store or queue submission %s", submission.client_request_id)
            return Delivery.NOT_SAVED

    def flush(self) -> StoreStatus:
        """Send what waits if the database can be used; cheap when nothing waits."""
        if self.outbox.waiting() and self.problem() is None:
            try:
                report = self.outbox.flush(self.url)
            except OSError:
                log.exception("could not flush the outbox in %s", self.outbox.folder)
            else:
                if report.problem is not None:
                    self._judge(report.problem)
        return self.status()

    def status(self) -> StoreStatus:
        box = self.outbox
        return StoreStatus(self.problem(), len(box.waiting()), len(box.rejected()), str(box.folder))

    def _deliver(self, submission: Submission) -> Delivery:
        if self.problem() is None and not self.outbox.waiting():
            with contextlib.suppress(*STORE_ERRORS):  # away or refused: queue it below
                with self.session() as session:
                    repository.store(session, submission)
                return Delivery.STORED
        path = self.outbox.append(submission)
        self.flush()
        if path.exists():
            return Delivery.QUEUED
        refusal = self.outbox.rejected_dir / f"{path.stem}.reason.txt"
        if refusal.exists():
            log.error("the database refused submission %s: %s", path.stem, refusal.read_text())
            return Delivery.NOT_SAVED
        return Delivery.STORED

    def _fresh(self) -> bool:
        verdict = self._verdict
        return verdict is not None and time.monotonic() - verdict[0] < self.recheck_after_s

    def _check(self) -> str | None:
        try:
            if not self._migrated:
                upgrade_to_head(self.migration_url)
                self._migrated = True
            check_connection(self.url)
        except STORE_ERRORS as error:
            return first_line(error)
        return None

    def _judge(self, problem: str | None) -> None:
        self._verdict = (time.monotonic(), problem)
