"""The feedback store on a real PostgreSQL over loopback: writes, concurrency, dashboard reads.

A throwaway cluster (scripts/pg_cluster.py) is migrated to head and seeded with
1,000,000 predictions (`--quick`: 100,000) bulk-loaded with COPY: three model
versions, a year of timestamps, 70 % labelled, real-sized 784-byte images, so
tables and indexes have the size they would have. The cluster starts with
durability off for the load; it is switched back on (fsync, synchronous_commit,
full_page_writes) before anything is timed, so a commit waits for the disk as it
would in production.

- `repository.store` of one submission, what the app's label button does (the model
  version found registered, the prediction inserted, one transaction): p50 and p99
  (goal p50 <= 2 ms). Beside it, the same store with `synchronous_commit` off for
  that transaction (the commit does not wait for the WAL flush) and the disk's own
  flush time
  (`pg_test_fsync`'s fdatasync, one 8 kB write): a durable commit cannot be faster
  than one flush, so these two say how much of the p50 is the disk.
- 8 writer processes storing at once: predictions per second (goal >= 1,000/s).
- Every statistics query the Statistics and History pages run, unfiltered and
  filtered (one model version, the last 30 days): median over repeats, end to end
  (SQL and the DataFrame the page gets). Goal <= 100 ms each. The statistics are
  timed twice: as the dashboard reads them (from `prediction_stats`, the summary
  that triggers keep, migration 0003) and aggregated from the rows as they were
  before it (`from_summary=False`), side by side. EXPLAIN (ANALYZE,
  BUFFERS) of the slowest read goes into the JSON and the table.

The COPY fires prediction_stats' triggers like any other insert, so the summary is
built row by row during the load (part of the seed time) and is exact when timed.

    python benchmarks/database.py [--quick] [--rows 1000000]
"""

from __future__ import annotations

import io
import itertools
import multiprocessing
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    arguments,
    goal_verdict,
    machine,
    markdown_table,
    ms,
    save_result,
    summary_ms,
    timings_ms,
)
from db import analytics, repository
from db.engine import dispose_engines, get_engine, session_scope
from db.filters import Filters
from db.migrate import upgrade_to_head
from db.submission import ModelIdentity, Submission
from scripts.pg_cluster import find_bin_dir, running_cluster
from testing_support.feedback import bar_image

GOAL_STORE_P50_MS = 2.0
GOAL_WRITES_PER_S = 1_000.0
GOAL_QUERY_MS = 100.0
WRITERS = 8
MODELS = ("cnn", "resnet", "resnet")  # the third: a retrained resnet, new weights
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
COPY_COLUMNS = (
    "created_at", "session_id", "model_version_id", "predicted_digit", "confidence",
    "probabilities", "unsure", "true_label", "labeled_at", "source", "image", "latency_ms",
    "client_request_id",
)  # fmt: skip


MODEL_VERSIONS = tuple(
    ModelIdentity(
        name=name,
        architecture=name,
        weights_sha256=f"{i:064x}",
        parameter_count=100_000,
        test_accuracy=0.99,
        card={"name": name, "benchmark": True},
    )
    for i, name in enumerate(MODELS, start=1)
)


def register_versions(url: str) -> list[int]:
    """The ids of MODEL_VERSIONS, registered."""
    with session_scope(url) as session:
        return [repository.register_model_version(session, model) for model in MODEL_VERSIONS]


@dataclass(frozen=True)
class RowPool:
    """Distinct images and probability vectors, reused: their size is what counts."""

    images: list[str]  # PostgreSQL bytea literals
    digits: np.ndarray
    confidences: np.ndarray
    vectors: list[str]  # PostgreSQL real[] literals


def row_pool(rng: np.random.Generator, size: int = 997) -> RowPool:
    images = [
        "\\x" + rng.integers(0, 256, 784, dtype=np.uint8).tobytes().hex() for _ in range(size)
    ]
    digits = rng.integers(0, 10, size)
    confidences = np.clip(rng.beta(8, 1.2, size), 0.11, 1.0)
    vectors = []
    for digit, confidence in zip(digits, confidences, strict=True):
        rest = (1 - confidence) / 9
        vectors.append(
            "{" + ",".join(f"{confidence if d == digit else rest:.6f}" for d in range(10)) + "}"
        )
    return RowPool(images, digits, confidences, vectors)


def csv_chunk(
    rng: np.random.Generator, pool: RowPool, rows: range, n: int, versions: list[int], now: datetime
) -> io.StringIO:
    """Rows `rows` of `n` as COPY's CSV: 70 % labelled, wrong as often as unconfident."""
    start, size = rows.start, len(rows)
    k = rng.integers(0, len(pool.images), size)
    # Oldest first, as the app writes them: the table ends up in created_at order, as a
    # real one does (random order would make every scan by time, and index-only scans'
    # visibility checks, jump around the heap).
    ages = np.sort(rng.uniform(n - start - size, n - start, size))[::-1] * (365 * 86_400 / n)
    labelled = rng.random(size) < 0.7
    right = rng.random(size) < pool.confidences[k]
    wrong_label = (pool.digits[k] + rng.integers(1, 10, size)) % 10
    version = np.array(versions)[rng.choice(len(versions), size, p=[0.2, 0.3, 0.5])]
    buffer = io.StringIO()
    for i in range(size):
        created = now - timedelta(seconds=float(ages[i]))
        digit, confidence = pool.digits[k[i]], pool.confidences[k[i]]
        label = (digit if right[i] else wrong_label[i]) if labelled[i] else ""
        labeled_at = (created + timedelta(seconds=5)).isoformat() if labelled[i] else ""
        buffer.write(
            f"{created.isoformat()},s{(start + i) // 20},{version[i]},{digit},"
            f'{confidence:.6f},"{pool.vectors[k[i]]}",{confidence < 0.6},'
            f"{label},{labeled_at},canvas,{pool.images[k[i]]},3.5,seed-{start + i}\n"
        )
    buffer.seek(0)
    return buffer


def seed_rows(url: str, n: int, versions: list[int], now: datetime, chunk: int = 50_000) -> float:
    """COPY `n` synthetic predictions in; non-constraint indexes are rebuilt afterwards.

    Returns the seconds it took (load with the summary's triggers, index builds, VACUUM).
    """
    started = time.perf_counter()
    rng = np.random.default_rng(0)
    pool = row_pool(rng)
    raw = get_engine(url).raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "SELECT indexdef, indexname FROM pg_indexes WHERE tablename = 'predictions' AND "
            "indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        indexes = cursor.fetchall()
        for _, name in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        copy = f"COPY predictions ({', '.join(COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
        for start in range(0, n, chunk):
            rows = range(start, min(start + chunk, n))
            cursor.copy_expert(copy, csv_chunk(rng, pool, rows, n, versions, now))
        for definition, _ in indexes:
            cursor.execute(definition)
        raw.commit()
        raw.set_isolation_level(0)  # VACUUM cannot run inside a transaction
        # The triggers updated each summary cell hundreds of times inside this one
        # transaction, leaving ~4x the table in dead row versions; day-to-day writes
        # (one transaction each) are pruned as they go. Compact it, as a migration's
        # backfill would have built it.
        raw.cursor().execute("VACUUM FULL prediction_stats")
        raw.cursor().execute("VACUUM ANALYZE predictions, prediction_stats")
    finally:
        raw.close()
    return time.perf_counter() - started


def make_durable(url: str) -> None:
    with get_engine(url).connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name, value in DURABLE.items():
            connection.exec_driver_sql(f"ALTER SYSTEM SET {name} = '{value}'")
        connection.exec_driver_sql("SELECT pg_reload_conf()")
    dispose_engines(url)


def store_one(url: str, model: ModelIdentity, request_id: str, wait_for_disk: bool = True) -> None:
    """One labelled submission, made and stored as the label button does, one commit."""
    submission = Submission(
        client_request_id=request_id,
        model=model,
        predicted_digit=1,
        confidence=0.91,
        probabilities=[0.91 if digit == 1 else 0.01 for digit in range(10)],
        image=bar_image(12),
        latency_ms=3.1,
        session_id="bench",
        true_label=1,
    )
    with session_scope(url) as session:
        if not wait_for_disk:  # this transaction's commit returns before the WAL flush
            session.execute(text("SET LOCAL synchronous_commit TO off"))
        repository.store(session, submission)


def disk_flush_ms() -> float | None:
    """Milliseconds of one fdatasync of an 8 kB write on this disk (pg_test_fsync), or None."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            done = subprocess.run(
                [str(find_bin_dir() / "pg_test_fsync"), "-s", "1", "-f", f"{folder}/probe"],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
        except (OSError, RuntimeError, subprocess.TimeoutExpired):
            return None
    found = re.search(r"^\s*fdatasync\s+[\d.]+ ops/sec\s+(\d+) usecs/op", done.stdout, re.M)
    return int(found[1]) / 1000 if found else None


def _writer(
    url: str, model: ModelIdentity, worker: int, count: int, barrier: Any, results: Any
) -> None:
    store_one(url, model, f"warm-{worker}")  # connect outside the timed part
    barrier.wait()
    started = time.monotonic()
    for i in range(count):
        store_one(url, model, f"w{worker}-{i}")
    results.put((started, time.monotonic()))


def concurrent_writes(url: str, model: ModelIdentity, per_writer: int) -> float:
    """Predictions per second with `WRITERS` processes storing at once (wall clock)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(WRITERS), context.Queue()
    workers = [
        context.Process(target=_writer, args=(url, model, w, per_writer, barrier, results))
        for w in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=600) for _ in workers]
    for worker in workers:
        worker.join()
    return WRITERS * per_writer / (max(e for _, e in spans) - min(s for s, _ in spans))


def statistics_queries(
    version: int, now: datetime, from_summary: bool = True
) -> dict[str, Callable[[Any], Any]]:
    """Every db.analytics read the Statistics page makes, unfiltered and filtered.

    `from_summary=False`: aggregated from the rows instead, as before migration 0003.
    """
    reads = {
        "kpis": lambda s, f: analytics.kpis(s, f, now=now),
        "accuracy by digit": analytics.accuracy_by_digit,
        "confusion matrix": analytics.confusion_matrix,
        "confidence by outcome": analytics.confidence_by_outcome,
        "calibration bins": analytics.calibration_bins,
        "accuracy over time": analytics.accuracy_over_time,
        "unsure report": analytics.unsure_report,
    }
    everything = Filters(from_summary=from_summary)
    recent = Filters(version, since=(now - timedelta(days=30)).date(), from_summary=from_summary)
    queries: dict[str, Callable[[Any], Any]] = {}
    for label, filters in (("all", everything), ("1 version, 30 days", recent)):
        queries |= {
            f"{name} [{label}]": lambda s, read=read, f=filters: read(s, f)
            for name, read in reads.items()
        }
    queries["accuracy by model [all]"] = lambda s: analytics.accuracy_by_model(s, everything)
    return queries


def dashboard_queries(version: int, now: datetime) -> dict[str, Callable[[Any], Any]]:
    """Every read the Statistics and History pages make, as they make it."""
    queries: dict[str, Callable[[Any], Any]] = {
        "model versions (filter menu)": repository.list_model_versions,
        **statistics_queries(version, now),
    }
    for status in repository.STATUSES:
        queries[f"history, {status}, 50 rows"] = lambda s, st=status: repository.list_predictions(
            s, status=st, limit=50
        )
    queries["history, wrong, 1 version, 1000 rows"] = lambda s: repository.list_predictions(
        s, Filters(model_version_id=version), status="wrong", limit=1000
    )
    return queries


def time_queries(url: str, queries: dict[str, Callable], repeats: int) -> dict[str, dict]:
    timings = {}
    for name, query in queries.items():
        with session_scope(url) as session:
            samples = timings_ms(lambda q=query, s=session: q(s), repeats, warmup=1)
        timings[name] = summary_ms(samples)
    return timings


def explain(url: str, query: Callable[[Any], Any]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement `query` sends, in order."""
    statements: list[tuple[str, Any]] = []
    engine = get_engine(url)

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(url) as session:
            query(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    plans = []
    with engine.connect() as connection:
        for statement, parameters in statements:
            rows = connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            ).all()
            plans.append("\n".join(row[0] for row in rows))
    return plans


def run(rows: int, log_calls: int, per_writer: int, repeats: int) -> dict[str, Any]:
    """The whole benchmark on a fresh cluster; the figures as a dict."""
    with running_cluster() as cluster:
        url = cluster.url()
        upgrade_to_head(url)
        versions = register_versions(url)
        now = datetime.now(UTC)
        seed_s = seed_rows(url, rows, versions, now)
        make_durable(url)

        counter, model = itertools.count(), MODEL_VERSIONS[-1]
        stored = summary_ms(
            timings_ms(lambda: store_one(url, model, f"log-{next(counter)}"), log_calls, 10)
        )
        no_wait = summary_ms(
            timings_ms(
                lambda: store_one(url, model, f"nowait-{next(counter)}", wait_for_disk=False),
                log_calls,
                10,
            )
        )
        dispose_engines(url)  # no open connections in the parent while the writers fork
        writes_per_s = concurrent_writes(url, model, per_writer)

        queries = dashboard_queries(versions[-1], now)
        timings = time_queries(url, queries, repeats)
        slowest = max(timings, key=lambda name: timings[name]["p50"])
        plans = explain(url, queries[slowest])
        from_rows = time_queries(url, statistics_queries(versions[-1], now, False), repeats)
        dispose_engines(url)
    return {
        "rows": rows,
        "seed_seconds": round(seed_s, 1),
        "durability": DURABLE,
        "store_ms": stored,
        "store_no_disk_wait_ms": no_wait,
        "disk_fdatasync_ms": disk_flush_ms(),
        "writers": WRITERS,
        "writes_per_writer": per_writer,
        "concurrent_writes_per_second": writes_per_s,
        "queries_ms": timings,
        "queries_without_summary_ms": from_rows,
        "slowest_query": slowest,
        "slowest_explain": plans,
    }


def render(data: dict[str, Any]) -> str:
    stored = data["store_ms"]
    no_wait, flush = data["store_no_disk_wait_ms"], data["disk_fdatasync_ms"]
    rate, total = data["concurrent_writes_per_second"], data["writers"] * data["writes_per_writer"]
    writes = markdown_table(
        ["write", "calls", "p50 ms", "p99 ms", "goal"],
        [
            ["repository.store, one transaction (the label button)", stored["n"],
             ms(stored["p50"]), ms(stored["p99"]),
             f"p50 {goal_verdict(stored['p50'], GOAL_STORE_P50_MS)}"],
            ["the same, synchronous_commit off (no wait for the disk)", no_wait["n"],
             ms(no_wait["p50"]), ms(no_wait["p99"]), ""],
            [f"{data['writers']} writer processes at once", total,
             "", "", f"{rate:,.0f}/s: {goal_verdict(rate, GOAL_WRITES_PER_S, False)}"],
        ],
    )  # fmt: skip
    before = data.get("queries_without_summary_ms", {})
    reads = markdown_table(
        ["dashboard read", "median ms", "p95 ms", "goal <= 100 ms", "from the rows, median ms"],
        [
            [
                name,
                ms(t["p50"]),
                ms(t["p95"]),
                goal_verdict(t["p50"], GOAL_QUERY_MS),
                ms(before[name]["p50"]) if name in before else "",
            ]
            for name, t in data["queries_ms"].items()
        ],
    )
    plans = "\n\n".join(data["slowest_explain"])
    return (
        f"{data['rows']:,} predictions loaded with COPY in {data['seed_seconds']:.0f} s; "
        "writes timed with fsync and synchronous_commit on"
        + (f"; one fdatasync on this disk takes {flush:.1f} ms (pg_test_fsync)" if flush else "")
        + ".\n\n"
        f"{writes}\n\n{reads}\n\n_From the rows_: the same statistic aggregated from "
        "`labeled_predictions` instead of the `prediction_stats` summary (as before "
        f"migration 0003).\n\nSlowest read, `{data['slowest_query']}`, EXPLAIN (ANALYZE, "
        f"BUFFERS):\n\n```\n{plans}\n```"
    )


def main(argv: list[str] | None = None) -> dict:
    args = arguments(__doc__, argv, rows=1_000_000)
    rows = min(args.rows, 100_000) if args.quick else args.rows
    info = machine()
    data = run(
        rows,
        log_calls=300 if args.quick else 2_000,
        per_writer=50 if args.quick else 250,
        repeats=3 if args.quick else 7,
    )
    save_result("database", data, render(data), quick=args.quick, info=info)
    return data


if __name__ == "__main__":
    main()
