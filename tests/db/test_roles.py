"""The PostgreSQL roles: the app does its job and nothing more; the analyst only reads views."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from db import analytics, migrate, repository
from db.engine import dispose_engines, get_engine, session_scope
from db.errors import FeedbackStoreError
from db.roles import ANALYST_ROLE, APP_ROLE, ensure_roles, role_url
from db.views import VIEW_NAMES
from testing_support.feedback import make_submission, register

pytestmark = pytest.mark.postgres
PERMISSION_DENIED = "42501"


@pytest.fixture
def urls(fresh_pg_url: str) -> Iterator[dict[str, str]]:
    # Quote and percent sign: the password must survive being put into SQL.
    passwords = {role: secrets.token_urlsafe(12) + "'%" for role in (APP_ROLE, ANALYST_ROLE)}
    ensure_roles(
        fresh_pg_url, app_password=passwords[APP_ROLE], analyst_password=passwords[ANALYST_ROLE]
    )
    found = {
        "owner": fresh_pg_url,
        "app": role_url(fresh_pg_url, APP_ROLE, passwords[APP_ROLE]),
        "analyst": role_url(fresh_pg_url, ANALYST_ROLE, passwords[ANALYST_ROLE]),
    }
    yield found
    for url in found.values():
        dispose_engines(url)


def _refused(url: str, sql: str) -> None:
    with pytest.raises(sa.exc.ProgrammingError) as caught, get_engine(url).begin() as connection:
        connection.execute(sa.text(sql))
    assert caught.value.orig.pgcode == PERMISSION_DENIED, caught.value  # type: ignore[union-attr]


def test_app_role_runs_the_whole_app_workflow(urls: dict[str, str]) -> None:
    app = urls["app"]
    assert migrate.upgrade_to_head(app) == migrate.head_revision()  # at head: reads only
    with session_scope(app) as session:
        version = register(session)
        assert register(session) == version
        kept = repository.store(session, make_submission())
        dropped = repository.store(session, make_submission())
        repository.set_label(session, kept, 3)
        repository.delete_prediction(session, dropped)
    with session_scope(app) as session:
        assert list(repository.list_predictions(session)["id"]) == [kept]
        assert analytics.kpis(session).accuracy == 1.0
        assert len(analytics.read_view(session, "accuracy_by_model")) == 1
        # The summary the statistics read was kept by the triggers, under the app's writes.
        assert int(analytics.accuracy_by_digit(session).loc[3, "n"]) == 1


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE predictions",
        "DROP VIEW accuracy_by_digit",
        "ALTER TABLE predictions ADD COLUMN note text",
        "CREATE TABLE scratch (x int)",
        "DELETE FROM model_versions",
        "UPDATE model_versions SET name = 'x'",
        "TRUNCATE predictions",
        "UPDATE prediction_stats SET n = n + 1",
        "DELETE FROM prediction_stats",
    ],
)
def test_app_role_cannot_change_the_schema_or_model_versions(
    urls: dict[str, str], sql: str
) -> None:
    _refused(urls["app"], sql)


def test_app_role_gets_a_clear_message_when_the_schema_is_behind(urls: dict[str, str]) -> None:
    migrate.downgrade(urls["owner"], "0001")
    with pytest.raises(FeedbackStoreError, match=r"may not change the schema.*DATABASE_OWNER_URL"):
        migrate.upgrade_to_head(urls["app"])


def test_analyst_reads_every_view(urls: dict[str, str]) -> None:
    with session_scope(urls["owner"]) as session:
        prediction = repository.store(session, make_submission())
        repository.set_label(session, prediction, 8)
    with get_engine(urls["analyst"]).connect() as connection:
        counts = {
            view: connection.execute(sa.text(f"SELECT COUNT(*) FROM {view}")).scalar_one()
            for view in VIEW_NAMES
        }
    assert counts == {
        "labeled_predictions": 1,
        "accuracy_by_digit": 1,
        "confusion_matrix": 1,
        "accuracy_by_model": 1,
        "accuracy_by_day": 1,
        "calibration_bins": 1,
    }


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO model_versions (name, architecture, weights_sha256, parameter_count, card)"
        " VALUES ('x', 'cnn', repeat('a', 64), 1, '{}')",
        "SELECT * FROM predictions",  # raw rows and images stay private
        "SELECT * FROM model_versions",
        "UPDATE predictions SET true_label = 1",
        "DELETE FROM predictions",
        "CREATE TABLE scratch (x int)",
        "DROP VIEW labeled_predictions",
    ],
)
def test_analyst_cannot_write_or_read_tables(urls: dict[str, str], sql: str) -> None:
    _refused(urls["analyst"], sql)


def test_ensure_roles_again_changes_passwords(urls: dict[str, str]) -> None:
    ensure_roles(urls["owner"], app_password="new-app-pw", analyst_password="new-analyst-pw")
    dispose_engines(urls["app"])
    refused = pytest.raises(FeedbackStoreError, match="password authentication failed")
    with refused, get_engine(urls["app"]).connect():
        pass
    with get_engine(role_url(urls["owner"], APP_ROLE, "new-app-pw")).connect() as connection:
        assert connection.execute(sa.text("SELECT current_user")).scalar() == APP_ROLE
    dispose_engines(role_url(urls["owner"], APP_ROLE, "new-app-pw"))


def test_roles_need_passwords_and_postgresql(fresh_sqlite_url: str, fresh_pg_url: str) -> None:
    with pytest.raises(FeedbackStoreError, match="No password for digitlab_analyst"):
        ensure_roles(fresh_pg_url, app_password="x", analyst_password="")
    with pytest.raises(FeedbackStoreError, match="Roles exist only on PostgreSQL"):
        ensure_roles(fresh_sqlite_url, app_password="x", analyst_password="y")
