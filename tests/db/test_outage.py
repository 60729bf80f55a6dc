"""Nothing lost, nothing twice: submissions across a PostgreSQL restart, and many at once.

Real servers only: the restart test stops and starts a PostgreSQL of its own with
`pg_ctl` while a session keeps submitting through `FeedbackStore.submit`, what the
Draw page's label buttons call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from db import repository
from db.engine import session_scope
from db.feedback import Delivery, FeedbackStore
from db.outbox import Outbox
from testing_support.feedback import make_submission

pytestmark = pytest.mark.postgres


def stored_labels(url: str) -> dict[str, int]:
    """client_request_id -> true label of every stored prediction (fails on a duplicate)."""
    with session_scope(url) as session:
        rows = repository.list_predictions(session, limit=None)
    duplicated = [key for key, n in Counter(rows.client_request_id).items() if n > 1]
    assert not duplicated, f"stored more than once: {duplicated}"
    return dict(zip(rows.client_request_id, rows.true_label.astype(int), strict=True))


def test_a_database_restart_mid_run_loses_and_duplicates_nothing(
    restartable_pg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "2")
    url = restartable_pg.url()
    box = Outbox(tmp_path / "outbox")
    store = FeedbackStore(box, url, recheck_after_s=0)
    sent: dict[str, int] = {}
    deliveries: Counter[Delivery] = Counter()

    def send(count: int) -> None:
        for _ in range(count):
            request_id, label = f"fault-{len(sent):04d}", len(sent) % 10
            deliveries[store.submit(make_submission(request_id, label=label))] += 1
            sent[request_id] = label

    def send_while(action: Callable[[], None]) -> None:
        """Keep submitting for as long as `action` (a server stop or start) runs."""
        worker = threading.Thread(target=action)
        worker.start()
        while worker.is_alive():
            send(1)
            time.sleep(0.005)
        worker.join()

    send(50)
    assert deliveries == {Delivery.STORED: 50}
    send_while(restartable_pg.stop_server)  # transactions in flight are cut off
    send(50)  # the server is down: every one of these waits in the outbox
    assert deliveries[Delivery.QUEUED] >= 50 and len(box.waiting()) >= 50
    send_while(restartable_pg.start_server)
    send(50)  # the first one that reaches the server sends the backlog before itself
    box.flush(url)  # the periodic flush, for anything still waiting

    stored = stored_labels(url)
    lost = sorted(set(sent) - set(stored))
    print(
        f"\n{len(sent)} sent, {len(stored)} stored, {len(lost)} lost, 0 duplicated "
        f"({deliveries[Delivery.QUEUED]} went through the outbox)"
    )
    assert lost == [] and len(stored) == len(sent)
    assert stored == sent, "a label changed on the way"
    assert box.waiting() == [] and box.rejected() == []


def test_eight_sessions_submitting_500_each_store_exactly_4000_rows(
    fresh_pg_url: str, tmp_path: Path
) -> None:
    sessions, each = 8, 500

    def session(number: int) -> Counter[Delivery]:
        store = FeedbackStore(Outbox(tmp_path / f"outbox-{number}"), fresh_pg_url)
        outcomes: Counter[Delivery] = Counter()
        for n in range(each):
            submission = make_submission(
                f"s{number}-{n:03d}", label=(number + n) % 10, session_id=f"browser-{number}"
            )
            outcomes[store.submit(submission)] += 1
        return outcomes

    started = time.perf_counter()
    with ThreadPoolExecutor(sessions) as pool:
        outcomes = [future.result() for future in [pool.submit(session, k) for k in range(8)]]
    elapsed = time.perf_counter() - started
    assert outcomes == [{Delivery.STORED: each}] * sessions
    stored = stored_labels(fresh_pg_url)
    expected = {f"s{k}-{n:03d}": (k + n) % 10 for k in range(sessions) for n in range(each)}
    assert len(stored) == sessions * each == 4000
    assert stored == expected
    print(f"\n4000 submissions from 8 threads in {elapsed:.1f} s")
