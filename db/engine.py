"""Engines and sessions: how the rest of the code reaches the database.

Why this shape:
- Nothing connects at import time. `get_engine()` builds an engine on first use and
  keeps one per URL, so a Streamlit rerun does not open a new pool each time.
- `pool_pre_ping` swaps out connections a restarted server has closed, instead of
  failing the first query after a restart.
- A server that is down, or that accepts but never answers, gives a
  `DatabaseUnavailableError` with a readable text within `DIGITLAB_DB_CONNECT_TIMEOUT`
  seconds rather than a hang or a driver traceback.
- SQLite is tuned for a multi-threaded app: foreign keys on (they are off by default
  there), write-ahead logging so reads do not wait for a write, and a busy timeout.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from db.errors import DatabaseUnavailableError
from settings import get_settings

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def resolve_url(url: str | None = None) -> str:
    """The URL to use: the one given, else `DATABASE_URL` (or its SQLite default)."""
    return url or get_settings().database_url


def redacted(url: str | URL) -> str:
    """The URL as it may appear in a message or a log: password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for `url` (default: settings), created on first use."""
    key = resolve_url(url)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _create_engine(key)
            _engines[key] = engine
    return engine


def dispose_engines(url: str | None = None) -> None:
    """Close the pooled connections of one URL's engine, or of all of them.

    Tests call it before dropping a database; the app never needs to.
    """
    with _engines_lock:
        keys = [url] if url is not None else list(_engines)
        engines = [_engines.pop(key) for key in keys if key in _engines]
    for engine in engines:
        engine.dispose()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commit if the block ends normally, roll back if it raises.

    Objects stay readable after the block (`expire_on_commit=False`) because pages
    display what they just wrote.
    """
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_connection(url: str | None = None) -> None:
    """Connect once and run `SELECT 1`; raise `DatabaseUnavailableError` if that fails."""
    with get_engine(url).connect() as connection:
        connection.execute(sa.text("SELECT 1"))


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    timeout = get_settings().db_connect_timeout
    if parsed.get_backend_name() == "sqlite":
        engine = _create_sqlite_engine(parsed, timeout)
    else:
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            connect_args["connect_timeout"] = timeout
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    event.listen(engine, "handle_error", functools.partial(_explain_connection_failure, timeout))
    return engine


def _create_sqlite_engine(parsed: URL, timeout: int) -> Engine:
    connect_args = {"check_same_thread": False, "timeout": timeout}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every checkout would see a new empty database.
        engine = sa.create_engine(parsed, connect_args=connect_args, poolclass=StaticPool)
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _explain_connection_failure(timeout: int, context: sa.engine.ExceptionContext) -> None:
    """Replace a driver error raised while *opening* a connection by a readable one.

    Errors on an open connection (a bad query, a constraint) pass through unchanged;
    a failed pre-ping is expected and handled by the pool, so it passes too.
    """
    if context.connection is not None or context.is_pre_ping or context.engine is None:
        return
    reason = str(context.original_exception).strip().splitlines()
    raise DatabaseUnavailableError(
        f"Cannot connect to the database at {redacted(context.engine.url)}: "
        f"{reason[0] if reason else type(context.original_exception).__name__}. "
        f"Is the server running, and are DATABASE_URL's host, port, user and password "
        f"right? (gave up after at most {timeout} s; DIGITLAB_DB_CONNECT_TIMEOUT sets it)"
    ) from context.original_exception
