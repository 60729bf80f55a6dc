"""The outbox: a submission made while the database is away is kept on disk and sent later.

Real databases (SQLite and PostgreSQL through `db_url`), a real folder, real fsync.
"Unreachable" is a loopback port nobody listens on: connections are refused at once.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from db import outbox as outbox_module
from db import repository
from db.engine import session_scope
from db.feedback import Delivery, FeedbackStore
from db.outbox import Outbox
from db.submission import Drawing, Submission
from testing_support.feedback import make_submission


@pytest.fixture
def down_url(monkeypatch: pytest.MonkeyPatch) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "2")
    return f"postgresql+psycopg2://digitlab:pw@127.0.0.1:{port}/digitlab"


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox")


def submit(submission: Submission, box: Outbox, url: str | None = None) -> Delivery:
    """Submit through a store that checks the database each time (no verdict kept)."""
    return FeedbackStore(box, url, recheck_after_s=0).submit(submission)


def stored(url: str) -> pd.DataFrame:
    """Every prediction in the database, oldest first."""
    with session_scope(url) as session:
        return repository.list_predictions(session, limit=None).sort_values("id")


def test_a_submission_survives_the_round_trip_through_its_file() -> None:
    original = make_submission("round-trip", label=7, latency_ms=None, session_id=None)
    assert Submission.from_json(original.to_json()) == original
    drawing = Drawing(strokes=[[[1, 2], [3.5, 4]]], canvas_width=280, canvas_height=280)
    drawn = make_submission("drawn", drawing=drawing)
    assert Submission.from_json(drawn.to_json()) == drawn


# An outbox file as digitlab wrote them before strokes were stored (format 1).
FORMAT_1_FILE = """{"format": 1, "submission": {"client_request_id": "old-1", "model_name":
"cnn-test", "architecture": "cnn", "weights_sha256": "%s", "parameter_count": 1234,
"test_accuracy": 0.99, "card": {"name": "cnn-test"}, "predicted_digit": 3, "confidence": 0.9,
"probabilities": [0.9, %s], "image": "%s", "source": "canvas", "unsure": false,
"latency_ms": 4.2, "session_id": "browser-1", "true_label": 8,
"submitted_at": "2026-03-09T10:00:00+00:00"}}"""


def test_a_queued_file_from_before_strokes_still_replays(db_url: str, box: Outbox) -> None:
    today = make_submission()
    image = base64.b64encode(today.image).decode()
    old = FORMAT_1_FILE % (today.model.weights_sha256, ", ".join(["0.0111111111111"] * 9), image)
    box.pending_dir.mkdir(parents=True)
    (box.pending_dir / f"{outbox_module._next_sequence():020d}-old.json").write_text(old)
    assert box.flush(db_url).sent == 1
    (row,) = stored(db_url).itertuples()
    assert (row.client_request_id, row.true_label, row.model_name) == ("old-1", 8, "cnn-test")
    assert row.created_at == datetime(2026, 3, 9, 10, tzinfo=UTC) and row.strokes is None


def test_submit_stores_at_once_when_the_database_answers(db_url: str, box: Outbox) -> None:
    assert submit(make_submission("r-1", label=5), box, db_url) is Delivery.STORED
    rows = stored(db_url)
    assert list(zip(rows.client_request_id, rows.true_label, strict=True)) == [("r-1", 5)]
    assert box.waiting() == []


def test_an_unlabelled_submission_is_stored_without_a_label(db_url: str, box: Outbox) -> None:
    assert submit(make_submission("r-2", label=None), box, db_url) is Delivery.STORED
    rows = stored(db_url)
    assert rows.true_label.isna().all() and rows.labeled_at.isna().all() and len(rows) == 1


def test_an_unreachable_database_queues_it_fsynced_before_submit_returns(
    down_url: str, box: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    submission = make_submission("r-down", label=2)
    assert submit(submission, box, down_url) is Delivery.QUEUED
    (waiting,) = box.waiting()
    queued = Submission.from_json(waiting.read_bytes())
    assert queued.created_at is not None  # the moment it was made, kept for the replay
    assert dataclasses.replace(queued, created_at=None) == submission
    # The file's content (under tmp/, before the rename), then the folder with the rename.
    assert synced[-1] == str(box.pending_dir)
    assert synced[-2] == str(box.folder / "tmp" / waiting.name)
    assert waiting.stat().st_mode & 0o077 == 0, "drawings are readable by other users"


def test_replay_keeps_the_order_and_the_time_they_were_made(
    db_url: str, down_url: str, box: Outbox
) -> None:
    made = [make_submission(f"r-{n}", label=n) for n in range(6)]
    for submission in made[:5]:
        assert submit(submission, box, down_url) is Delivery.QUEUED
    queued = [Submission.from_json(path.read_bytes()) for path in box.waiting()]
    assert len(queued) == 5
    # The database is back: the next submit queues behind the others and sends all six.
    assert submit(made[5], box, db_url) is Delivery.STORED
    rows = stored(db_url)
    assert list(rows.client_request_id) == [s.client_request_id for s in made]
    assert list(rows.true_label) == list(range(6))
    assert list(rows.created_at[:5]) == [s.created_at for s in queued]
    assert rows.created_at.is_monotonic_increasing
    assert box.waiting() == []


def test_a_crash_between_commit_and_delete_resends_it_harmlessly(db_url: str, box: Outbox) -> None:
    submission = make_submission("r-twice", label=4)
    box.append(submission)
    with session_scope(db_url) as session:  # committed, but the file was never deleted
        repository.store(session, submission)
    report = box.flush(db_url)
    assert (report.sent, report.waiting, report.problem) == (1, 0, None)
    assert list(stored(db_url).client_request_id) == ["r-twice"]


def test_threads_flushing_at_once_send_each_submission_once(db_url: str, box: Outbox) -> None:
    count, threads = 40, 4
    for n in range(count):
        box.append(make_submission(f"r-{n:02d}", label=n % 10))
    start = threading.Barrier(threads)

    def flush() -> outbox_module.FlushReport:
        start.wait()
        return box.flush(db_url)

    with ThreadPoolExecutor(threads) as pool:
        reports = [future.result() for future in [pool.submit(flush) for _ in range(threads)]]
    assert sum(report.sent for report in reports) == count  # no file sent by two flushers
    rows = stored(db_url)
    assert list(rows.client_request_id) == [f"r-{n:02d}" for n in range(count)]
    assert list(rows.true_label) == [n % 10 for n in range(count)]
    assert box.waiting() == []


def test_an_unreadable_file_is_set_aside_and_replay_goes_on(
    fresh_sqlite_url: str, box: Outbox
) -> None:
    box.append(make_submission("r-a"))
    torn = box.pending_dir / f"{outbox_module._next_sequence():020d}-torn.json"
    torn.write_bytes(b'{"format": 1, "submission": {"client_req')
    box.append(make_submission("r-b"))
    (box.folder / "tmp" / "left-by-a-crash.json.tmp").write_bytes(b"{")
    report = box.flush(fresh_sqlite_url)
    assert (report.sent, report.rejected, report.waiting) == (2, 1, 0)
    assert list(stored(fresh_sqlite_url).client_request_id) == ["r-a", "r-b"]
    assert box.rejected() == [box.rejected_dir / torn.name]
    reason = (box.rejected_dir / f"{torn.stem}.reason.txt").read_text()
    assert reason.startswith("JSONDecodeError")


def test_a_bad_setting_stops_the_flush_and_sets_nothing_aside(
    fresh_sqlite_url: str, box: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a file or a row the database refuses goes to rejected/, never a config error."""
    box.append(make_submission("r-kept"))
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="DIGITLAB_DB_CONNECT_TIMEOUT"):
        box.flush(fresh_sqlite_url)
    assert len(box.waiting()) == 1 and box.rejected() == []


def test_what_the_database_refuses_is_not_saved_and_set_aside(
    fresh_sqlite_url: str, box: Outbox
) -> None:
    """A row the checks let through but a constraint refuses (here: a dropped-in CHECK)."""
    with session_scope(fresh_sqlite_url) as session:
        session.execute(sa.text(
            "CREATE TRIGGER no_sevens BEFORE INSERT ON predictions WHEN NEW.true_label = 7 "
            "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: no_sevens'); END"
        ))  # fmt: skip
    assert submit(make_submission("r-7", label=7), box, fresh_sqlite_url) is Delivery.NOT_SAVED
    assert box.waiting() == [] and len(box.rejected()) == 1
    assert submit(make_submission("r-6", label=6), box, fresh_sqlite_url) is Delivery.STORED
    assert list(stored(fresh_sqlite_url).client_request_id) == ["r-6"]


def test_the_verdict_is_kept_until_it_is_due_again(
    fresh_sqlite_url: str, down_url: str, box: Outbox
) -> None:
    """While the database is known to be away, a submit queues without trying it."""
    store = FeedbackStore(box, down_url, recheck_after_s=60)
    assert store.problem() is not None and "Cannot connect" in store.problem()
    store.url = store.migration_url = fresh_sqlite_url  # back, but the verdict is fresh
    assert store.submit(make_submission("r-1", label=1)) is Delivery.QUEUED
    assert store.flush().waiting == 1
    store.recheck_after_s = 0  # due again: checked, found up, flushed
    status = store.flush()
    assert (status.problem, status.waiting, status.rejected) == (None, 0, 0)
    assert list(stored(fresh_sqlite_url).client_request_id) == ["r-1"]


def test_command_line_status_and_flush(
    fresh_sqlite_url: str,
    down_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DIGITLAB_OUTBOX_DIR", str(tmp_path / "queued"))
    monkeypatch.setenv("DATABASE_URL", down_url)
    box = Outbox.from_settings()
    assert box.folder == tmp_path / "queued"
    for n in range(2):
        assert submit(make_submission(f"r-{n}"), box) is Delivery.QUEUED
    assert outbox_module.main([]) == 0
    assert f"2 waiting in {box.pending_dir}" in capsys.readouterr().out
    assert outbox_module.main(["flush"]) == 1
    captured = capsys.readouterr()
    assert "sent 0, rejected 0, waiting 2" in captured.out
    assert "stopped early: Cannot connect to the database" in captured.err
    assert "pw@" not in captured.err  # the password stays hidden
    monkeypatch.setenv("DATABASE_URL", fresh_sqlite_url)
    assert outbox_module.main(["flush"]) == 0
    assert "sent 2, rejected 0, waiting 0" in capsys.readouterr().out
    assert len(stored(fresh_sqlite_url)) == 2
