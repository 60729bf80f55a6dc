"""Migration 0005 (champion alias, its audit, fine-tune jobs) on a database holding rows."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from db_test_data import STATS_AT_0003, comparable

from db import champion, jobs, migrate
from db.engine import get_engine, session_scope
from testing_support.feedback import register

LOOP_TABLES = {"model_aliases", "alias_changes", "finetune_jobs"}


def _tables(url: str) -> set[str]:
    return set(sa.inspect(get_engine(url)).get_table_names())


def _rows(url: str) -> list[list[tuple[Any, ...]]]:
    queries = [f"SELECT * FROM {t} ORDER BY 1" for t in ("model_versions", "predictions")]
    queries.append(f"SELECT {STATS_AT_0003} FROM prediction_stats ORDER BY 1, 2, 3, 4, 5")
    with get_engine(url).connect() as connection:
        return [[comparable(row) for row in connection.execute(sa.text(q))] for q in queries]


def test_0005_upgrades_a_database_holding_todays_rows(seeded: dict[str, Any]) -> None:
    url = seeded["url"]
    migrate.downgrade(url, "0004")
    assert not _tables(url) & LOOP_TABLES
    before = _rows(url)
    assert len(before[1]) == len(seeded["ids"])

    migrate.upgrade_to_head(url)

    assert _tables(url) >= LOOP_TABLES
    assert _rows(url) == before
    with session_scope(url) as session:
        assert champion.get_alias(session) is None  # the app serves the default, as before
        champion.set_alias(session, seeded["models"]["B"])
        jobs.claim_job(session, host="h")
    with session_scope(url) as session:
        assert champion.get_alias(session).name == "model-B"


def test_0005_down_removes_only_its_tables(db_url: str) -> None:
    with session_scope(db_url) as session:
        champion.set_alias(session, register(session))
    migrate.downgrade(db_url, "0004")
    assert not _tables(db_url) & LOOP_TABLES
    assert {"model_versions", "predictions", "prediction_stats"} <= _tables(db_url)
    migrate.upgrade_to_head(db_url)
    assert migrate.schema_drift(db_url) == []


def test_the_database_allows_one_running_job(db_url: str) -> None:
    """The partial unique index itself, not only claim_job's handling of it."""
    insert = sa.text(
        "INSERT INTO finetune_jobs (state, started_at, heartbeat_at, progress, host) "
        "VALUES (:state, '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0, 'h')"
    )
    with get_engine(db_url).begin() as connection:
        for state in ("failed", "failed", "succeeded", "running"):
            connection.execute(insert, {"state": state})
    with pytest.raises(sa.exc.IntegrityError), get_engine(db_url).begin() as connection:
        connection.execute(insert, {"state": "running"})
