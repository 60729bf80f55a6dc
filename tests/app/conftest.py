"""The dashboard under `streamlit.testing.v1.AppTest`, against real databases.

Every test gets a fresh database at head on SQLite and on PostgreSQL (`db_url` from
tests/conftest.py) and runs the real app (`streamlit/app.py` with st.navigation)
with the real default model from `saved_models/`. The environment is pointed at the
test database the way a user would configure the app: through DATABASE_URL.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from db import repository
from db.engine import session_scope
from testing_support.feedback import bar_image, make_submission, register

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = REPO_ROOT / "streamlit" / "app.py"
# The first run of a process imports torch and loads the model: allow for it.
RUN_TIMEOUT_S = 60
PAGES = {
    "draw": "app_pages/draw.py",
    "statistics": "app_pages/statistics.py",
    "history": "app_pages/history.py",
    "model": "app_pages/model.py",
}


@pytest.fixture
def app_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Point the app at a fresh test database (and keep its local state in tmp)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)
    monkeypatch.setenv("DIGITLAB_HOME", str(tmp_path / "home"))
    return db_url


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


@dataclass(frozen=True)
class SeedRow:
    model: str
    predicted: int
    label: int | None
    confidence: float


# A small data set whose statistics are worked out by hand in the tests:
# all 6 predictions, 5 labelled, 3 right (rows 1, 3, 5) -> 60.0 %;
# model "alpha" alone: 4 predictions, 3 labelled, 2 right -> 66.7 %;
# wrong ones: rows 2 and 6.
SEED = [
    SeedRow("alpha", 3, 3, 0.90),
    SeedRow("alpha", 3, 5, 0.80),
    SeedRow("alpha", 7, 7, 0.95),
    SeedRow("alpha", 1, None, 0.60),
    SeedRow("beta", 0, 0, 0.99),
    SeedRow("beta", 4, 9, 0.55),
]


@dataclass(frozen=True)
class Seeded:
    url: str
    versions: dict[str, int]
    ids: list[int]


@pytest.fixture
def seeded(app_db: str) -> Iterator[Seeded]:
    """SEED stored through the repository, as the app would have stored it."""
    with session_scope(app_db) as session:
        versions = {name: register(session, name) for name in ("alpha", "beta")}
        ids = [
            repository.store(
                session,
                make_submission(
                    f"seed-{n}",
                    label=row.label,
                    model_name=row.model,
                    predicted_digit=row.predicted,
                    confidence=row.confidence,
                    image=bar_image(4 + 2 * row.predicted),  # a distinct picture per row
                    latency_ms=None,
                    session_id=None,
                ),
            )
            for n, row in enumerate(SEED)
        ]
    yield Seeded(app_db, versions, ids)


@pytest.fixture
def stored_rows(app_db: str) -> Callable[[], pd.DataFrame]:
    """Read every prediction in the test database, newest first."""

    def read() -> pd.DataFrame:
        with session_scope(app_db) as session:
            return repository.list_predictions(session, limit=None)

    return read
