"""The dashboard under `streamlit.testing.v1.AppTest`, against real databases.

Every test gets a fresh database at head on SQLite and on PostgreSQL (`db_url` from
tests/conftest.py) and runs the real app (`streamlit/app.py` with st.navigation)
with the real default model from `saved_models/`. The environment is pointed at the
test database the way a user would configure the app: through DATABASE_URL.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from db import repository
from db.engine import session_scope
from testing_support import APP
from testing_support.dashboard import PAGES, RUN_TIMEOUT_S, Seeded, seed


@pytest.fixture
def app_db(configured_db: str) -> str:
    """Point the app at a fresh test database (and keep its local state in tmp)."""
    return configured_db


@pytest.fixture
def unreachable_database_url(monkeypatch: pytest.MonkeyPatch) -> str:
    """A PostgreSQL URL on a loopback port nobody listens on (fails fast)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DIGITLAB_DB_CONNECT_TIMEOUT", "2")
    return f"postgresql+psycopg2://digitlab@127.0.0.1:{port}/digitlab"


@pytest.fixture
def open_page(app_db: str) -> Callable[[str], AppTest]:
    """Run the app and switch to one of its pages; fail on any uncaught exception."""

    def open_(page: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_S).run()
        if page != "draw":
            at.switch_page(PAGES[page]).run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return open_


@pytest.fixture
def seeded(app_db: str) -> Seeded:
    """SEED stored through the repository, as the app would have stored it."""
    return seed(app_db)


@pytest.fixture
def stored_rows(app_db: str) -> Callable[[], pd.DataFrame]:
    """Read every prediction in the test database, newest first."""

    def read() -> pd.DataFrame:
        with session_scope(app_db) as session:
            return repository.list_predictions(session, limit=None)

    return read
