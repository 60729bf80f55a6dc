"""Fixtures shared by the whole suite: real databases, started once, cleaned up after.

PostgreSQL: one throwaway cluster per test session (scripts/pg_cluster.py; needs
`apt-get install postgresql`). A database migrated to head serves as a template, so
a fresh, migrated database per test is a `CREATE DATABASE ... TEMPLATE` away
(milliseconds). SQLite: a migrated file copied per test.

| fixture | scope | gives |
| --- | --- | --- |
| `pg_cluster` | session | the running `Cluster` (`.url(dbname)`, `.libpq_url()`, `.port`) |
| `pg_url` | session | the cluster's `digitlab` database, migrated to head, shared |
| `fresh_pg_url` | test | a new PostgreSQL database at head, dropped afterwards |
| `empty_pg_url` | test | a new PostgreSQL database with no tables at all |
| `fresh_sqlite_url` | test | a new SQLite file at head in tmp_path |
| `empty_sqlite_url` | test | a SQLite path with nothing there yet |
| `db_url` | test | `fresh_*_url`, once per backend: ["sqlite", "postgresql"] |
| `empty_db_url` | test | `empty_*_url`, once per backend |
| `db_session` | test | a Session on `db_url` (committed at the end of the test) |
| `configured_db` | test | `db_url`, set as DATABASE_URL, with DIGITLAB_HOME in tmp |
| `restartable_pg` | test | a `Cluster` of its own, migrated, that the test may stop and start |

PostgreSQL cases carry the `postgres` marker (`-m "not postgres"` deselects them).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# Property tests draw new examples on every run, and so find new failures, here; CI
# (`.ci/run`) draws the same examples every time, so that a landing never fails on a
# draw the next run would not make.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _load_pg_cluster() -> ModuleType:
    """scripts/ is not a package; load the script by path."""
    spec = importlib.util.spec_from_file_location(
        "pg_cluster", REPO_ROOT / "scripts" / "pg_cluster.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("pg_cluster", module)
    spec.loader.exec_module(module)
    return module


pg_cluster_script = _load_pg_cluster()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    with pg_cluster_script.running_cluster() as cluster:
        yield cluster


@pytest.fixture
def restartable_pg() -> Iterator[Any]:
    """A cluster of the test's own (a second or two to start), for outage tests.

    Stopping the shared `pg_cluster` would break every test after this one.
    """
    from db.engine import dispose_engines
    from db.migrate import upgrade_to_head

    with pg_cluster_script.running_cluster() as cluster:
        upgrade_to_head(cluster.url())
        yield cluster
        dispose_engines(cluster.url())


@pytest.fixture(scope="session")
def _pg_admin(pg_cluster: Any) -> Iterator[Any]:
    """An autocommit connection to the maintenance database, for CREATE/DROP DATABASE."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        yield connection
    engine.dispose()


@pytest.fixture(scope="session")
def _pg_template(pg_cluster: Any, _pg_admin: Any) -> str:
    from db.engine import dispose_engines
    from db.migrate import upgrade_to_head

    name = "digitlab_template"
    _pg_admin.exec_driver_sql(f"CREATE DATABASE {name}")
    url = pg_cluster.url(name)
    upgrade_to_head(url)
    dispose_engines(url)  # a template must have no open connections
    return name


@pytest.fixture(scope="session")
def pg_url(pg_cluster: Any) -> str:
    from db.migrate import upgrade_to_head

    url = pg_cluster.url()
    upgrade_to_head(url)
    return url


def _new_pg_database(pg_cluster: Any, admin: Any, template: str | None) -> Iterator[str]:
    from db.engine import dispose_engines

    name = f"test_{uuid.uuid4().hex[:12]}"
    admin.exec_driver_sql(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
    url = pg_cluster.url(name)
    try:
        yield url
    finally:
        dispose_engines(url)
        admin.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def fresh_pg_url(pg_cluster: Any, _pg_admin: Any, _pg_template: str) -> Iterator[str]:
    yield from _new_pg_database(pg_cluster, _pg_admin, _pg_template)


@pytest.fixture
def empty_pg_url(pg_cluster: Any, _pg_admin: Any) -> Iterator[str]:
    yield from _new_pg_database(pg_cluster, _pg_admin, None)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from db.engine import dispose_engines
    from db.migrate import upgrade_to_head

    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    url = f"sqlite:///{path}"
    upgrade_to_head(url)
    dispose_engines(url)  # closes the last connection: the WAL is folded into the file
    return path


@pytest.fixture
def fresh_sqlite_url(tmp_path: Path, _sqlite_template: Path) -> Iterator[str]:
    from db.engine import dispose_engines

    path = tmp_path / "digitlab.sqlite"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engines(url)


@pytest.fixture
def empty_sqlite_url(tmp_path: Path) -> Iterator[str]:
    from db.engine import dispose_engines

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    yield url
    dispose_engines(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh database at head; every test using it runs on SQLite and on PostgreSQL."""
    fixture = "fresh_sqlite_url" if request.param == "sqlite" else "fresh_pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest) -> str:
    """A database with no tables yet, on each backend (for migration tests)."""
    fixture = "empty_sqlite_url" if request.param == "sqlite" else "empty_pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def configured_db(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """`db_url` set as a user configures digitlab: DATABASE_URL (local state in tmp)."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("DATABASE_OWNER_URL", raising=False)
    monkeypatch.setenv("DIGITLAB_HOME", str(tmp_path / "home"))
    return db_url


@pytest.fixture
def db_session(db_url: str) -> Iterator[Any]:
    from db.engine import session_scope

    with session_scope(db_url) as session:
        yield session
