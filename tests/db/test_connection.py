"""Connections: no database at import, clear errors (not hangs) when the server is away."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from db import migrate, repository
from db.engine import check_connection, get_engine, session_scope
from db.errors import DatabaseUnavailableError
from settings import get_settings
from testing_support.feedback import make_submission


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and then never says a word (a hung server)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def test_refused_connection_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql+psycopg2://digitlab:s3cret@127.0.0.1:{_closed_port()}/digitlab"
    with pytest.raises(DatabaseUnavailableError) as caught:
        migrate.upgrade_to_head(url)
    message = str(caught.value)
    assert message.startswith("Cannot connect to the database at postgresql+psycopg2://digitlab:")
    assert "Connection refused" in message and "Is the server running" in message
    assert "s3cret" not in message


def test_a_server_that_never_answers_times_out(
    silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "2")
    url = f"postgresql+psycopg2://digitlab:pw@127.0.0.1:{silent_server}/digitlab"
    started = time.monotonic()
    refused = pytest.raises(DatabaseUnavailableError, match="timeout expired")
    with refused as caught, session_scope(url) as session:
        repository.list_predictions(session)
    assert "gave up after at most 2 s" in str(caught.value)
    assert time.monotonic() - started < 10


def test_bad_timeout_setting_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "soon")
    expected = "DIGITLAB_DB_CONNECT_TIMEOUT must be a whole number of seconds >= 1, got 'soon'"
    with pytest.raises(ValueError, match=expected):
        get_settings()


def test_importing_the_package_opens_no_connection() -> None:
    """With DATABASE_URL pointing nowhere, every module still imports."""
    env = dict(os.environ)
    env["DATABASE_URL"] = f"postgresql+psycopg2://x:y@127.0.0.1:{_closed_port()}/none"
    code = "import db, db.engine, db.schema, db.repository, db.analytics, db.migrate, db.roles"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_default_database_is_a_sqlite_file_under_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)
    home = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("DIGITLAB_HOME", str(home))
    assert migrate.upgrade_to_head() == migrate.head_revision()
    check_connection()
    assert (home / "digitlab.sqlite").is_file()
    with session_scope() as session:
        repository.store(session, make_submission())
    with session_scope() as session:
        assert len(repository.list_predictions(session)) == 1
    get_engine().dispose()


def test_session_scope_rolls_back_when_the_block_fails(db_url: str, model_version_id: int) -> None:
    with pytest.raises(RuntimeError, match="page crashed"), session_scope(db_url) as session:
        repository.store(session, make_submission())
        raise RuntimeError("page crashed")
    with get_engine(db_url).connect() as connection:
        assert connection.execute(sa.text("SELECT COUNT(*) FROM predictions")).scalar() == 0
