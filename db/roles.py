"""The two PostgreSQL roles: the app's, and a read-only analyst's.

Why not a migration: roles belong to the whole server, not to one database, and they
need passwords, which must not live in a migration file. This idempotent function
is run by the schema owner after migrating (and again after every new migration, so
that new tables get their grants):

    DIGITLAB_APP_DB_PASSWORD=... DIGITLAB_ANALYST_DB_PASSWORD=... \\
    DATABASE_OWNER_URL=postgresql+psycopg2://postgres:...@host/digitlab python -m db.roles

What each role may do:
- `digitlab_app`: read and write `predictions` (insert, select, update, and delete,
  which the app's "delete this drawing" button needs), insert and read
  `model_versions`, read the views, `prediction_stats` (the dashboard's summary,
  which only the owner's triggers write) and `alembic_version`; move the champion
  alias and run fine-tune jobs (`model_aliases`, `finetune_jobs`), append to the
  audit `alias_changes` (never change or delete it). It owns nothing, so it
  cannot drop or alter a table, and may not create one.
- `digitlab_analyst`: SELECT on the analytics views only. Views run with their
  owner's rights, so the analyst reads statistics without ever seeing the raw
  `predictions` table (and its images).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, make_url

from db.engine import get_engine, redacted
from db.errors import FeedbackStoreError
from db.migrate import upgrade_to_head
from db.views import VIEW_NAMES
from settings import get_settings

APP_ROLE = "digitlab_app"
ANALYST_ROLE = "digitlab_analyst"


def role_url(url: str, role: str, password: str) -> str:
    """`url` with its user and password replaced: how a role connects to the same database."""
    return make_url(url).set(username=role, password=password).render_as_string(False)


def ensure_roles(
    url: str | None = None,
    *,
    app_password: str | None = None,
    analyst_password: str | None = None,
) -> None:
    """Create or update both roles and grant them exactly their rights on `url`'s database.

    `url` must belong to the schema owner (a superuser or the database's owner);
    passwords default to the settings. Migrates to head first, so the grants cover
    every table and view there is.
    """
    settings = get_settings()
    url = url or settings.migration_url
    passwords = {
        APP_ROLE: app_password or settings.app_db_password,
        ANALYST_ROLE: analyst_password or settings.analyst_db_password,
    }
    missing = [role for role, password in passwords.items() if not password]
    if missing:
        raise FeedbackStoreError(
            f"No password for {', '.join(missing)}: set DIGITLAB_APP_DB_PASSWORD and "
            "DIGITLAB_ANALYST_DB_PASSWORD (or pass them)."
        )
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        raise FeedbackStoreError(
            f"Roles exist only on PostgreSQL; {redacted(url)} is {engine.dialect.name}."
        )
    upgrade_to_head(url)
    with engine.begin() as connection:
        for role, password in passwords.items():
            _create_or_update_role(connection, role, str(password))
        _grant(connection)


def _create_or_update_role(connection: Connection, role: str, password: str) -> None:
    exists = connection.execute(
        sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    verb = "ALTER" if exists else "CREATE"
    # Utility statements take no server-side parameters; psycopg2 quotes the password
    # client-side, so it can hold any character without breaking the statement.
    connection.exec_driver_sql(
        f"{verb} ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %(password)s",
        {"password": password},
    )


def _grant(connection: Connection) -> None:
    database = connection.dialect.identifier_preparer.quote(
        connection.execute(sa.text("SELECT current_database()")).scalar_one()
    )
    views = ", ".join(VIEW_NAMES)
    both = f"{APP_ROLE}, {ANALYST_ROLE}"
    statements = [
        # PostgreSQL < 15 lets everyone create tables in `public`; nobody but the owner may.
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {database} TO {both}",
        f"GRANT USAGE ON SCHEMA public TO {both}",
        # Start from nothing, so running this again also takes back what is no longer meant.
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {both}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON predictions TO {APP_ROLE}",
        f"GRANT SELECT, INSERT ON model_versions TO {APP_ROLE}",
        # Kept by triggers that run with the owner's rights: the app only reads it.
        f"GRANT SELECT ON prediction_stats TO {APP_ROLE}",
        f"GRANT SELECT ON alembic_version TO {APP_ROLE}",
        # Promotion and fine-tune jobs from the dashboard; the audit is append-only.
        f"GRANT SELECT, INSERT, UPDATE ON model_aliases, finetune_jobs TO {APP_ROLE}",
        f"GRANT SELECT, INSERT ON alias_changes TO {APP_ROLE}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
        f"GRANT SELECT ON {views} TO {both}",
    ]
    for statement in statements:
        connection.execute(sa.text(statement))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.roles", description="Create the app and analyst roles."
    )
    parser.add_argument("--url", help="schema owner's URL (default: DATABASE_OWNER_URL)")
    args = parser.parse_args(argv)
    url = args.url or get_settings().migration_url
    try:
        ensure_roles(url)
    except FeedbackStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for role in (APP_ROLE, ANALYST_ROLE):
        print(f"{role}: {redacted(role_url(url, role, 'hidden'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
