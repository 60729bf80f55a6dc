"""Bring a database to the newest schema, or explain in words why that cannot be done.

The app and `make run` call `upgrade_to_head()` before anything else, so a fresh
SQLite file or an empty PostgreSQL database just works. What can go wrong is said
plainly (`FeedbackStoreError` subclasses), never as an Alembic traceback:
- the server cannot be reached           -> DatabaseUnavailableError
- the database is at a revision this code does not know (a newer digitlab migrated
  it)                                    -> UnknownRevisionError
- the URL's role may not change the schema -> FeedbackStoreError naming the fix.

Command line (`python -m db.migrate --help`): upgrade (default), current, downgrade
REV, check (exit 1 if the models and the migrations disagree).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from db.engine import get_engine, redacted
from db.errors import FeedbackStoreError, UnknownRevisionError
from db.schema import Base
from settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant will do: it only has to be the same for every digitlab process.
_MIGRATION_LOCK_ID = 74_188_801
_INSUFFICIENT_PRIVILEGE = "42501"


def alembic_config() -> Config:
    """Alembic's configuration without reading alembic.ini (which would reset logging)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "db/migrations/versions has no revisions"
    return head


def current_revision(url: str | None = None) -> str | None:
    """The database's revision; None for a database never migrated."""
    with get_engine(_migration_url(url)).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(url: str | None = None) -> str:
    """Migrate the database at `url` (default: settings' migration URL) to head.

    Cheap when already at head (one query), so the app may call it on every start.
    Returns the head revision.
    """
    url = _migration_url(url)
    head = head_revision()
    with get_engine(url).begin() as connection:
        _lock_against_concurrent_migrations(connection)
        current = _known_revisions(connection, url)
        if current == (head,):
            return head
        _run_alembic(connection, url, lambda config: command.upgrade(config, "head"))
    return head


def downgrade(url: str | None = None, revision: str = "base") -> None:
    """Migrate down to `revision` ("base" removes every table and view)."""
    url = _migration_url(url)
    with get_engine(url).begin() as connection:
        _lock_against_concurrent_migrations(connection)
        _known_revisions(connection, url)
        _run_alembic(connection, url, lambda config: command.downgrade(config, revision))


def schema_drift(url: str | None = None) -> list[Any]:
    """Differences autogenerate finds between `db.schema` and the migrated database.

    Empty when the migrations create exactly what the models declare. Views are not
    compared (autogenerate does not see them); tests check those separately.
    """
    with get_engine(_migration_url(url)).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def _migration_url(url: str | None) -> str:
    return url or get_settings().migration_url


def _lock_against_concurrent_migrations(connection: Connection) -> None:
    """Two app processes starting together must not both run the same migration."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_ID})"))


def _known_revisions(connection: Connection, url: str) -> tuple[str, ...]:
    current = tuple(MigrationContext.configure(connection).get_current_heads())
    script = ScriptDirectory.from_config(alembic_config())
    for revision in current:
        try:
            known = script.get_revision(revision)
        except (RevisionError, CommandError):
            known = None
        if known is None:
            known_ids = ", ".join(sorted(rev.revision for rev in script.walk_revisions()))
            raise UnknownRevisionError(
                f"The database at {redacted(url)} is at schema revision {revision!r}, which "
                f"this copy of digitlab does not know (it knows {known_ids}; head "
                f"{script.get_current_head()}). A newer digitlab probably migrated it. Run "
                "that newer version, or point DATABASE_URL at another database."
            )
    return current


def _run_alembic(connection: Connection, url: str, step: Any) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    try:
        step(config)
    except sa.exc.DBAPIError as error:
        if getattr(error.orig, "pgcode", None) == _INSUFFICIENT_PRIVILEGE:
            raise FeedbackStoreError(
                f"The role in {redacted(url)} may not change the schema, and the database "
                "is not at the newest revision. Run `make db-upgrade` (python -m db.migrate) "
                "with DATABASE_OWNER_URL set to the schema owner's URL."
            ) from error
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m db.migrate", description="Migrate the feedback store's schema."
    )
    parser.add_argument(
        "action",
        nargs="?",
        default="upgrade",
        choices=["upgrade", "current", "downgrade", "check"],
        help="upgrade to head (default), print the current revision, downgrade, or check "
        "that the models match the migrations",
    )
    parser.add_argument("revision", nargs="?", default="base", help="target of downgrade")
    parser.add_argument("--url", help="database URL (default: DATABASE_OWNER_URL/DATABASE_URL)")
    args = parser.parse_args(argv)
    url = _migration_url(args.url)
    try:
        if args.action == "upgrade":
            print(f"{redacted(url)} is at revision {upgrade_to_head(url)} (head)")
        elif args.action == "current":
            print(current_revision(url) or "(empty: never migrated)")
        elif args.action == "downgrade":
            downgrade(url, args.revision)
            print(f"{redacted(url)} is at revision {current_revision(url) or 'base'}")
        else:
            drift = schema_drift(url)
            for difference in drift:
                print(difference)
            print("models and migrations agree" if not drift else "drift found", file=sys.stderr)
            return 1 if drift else 0
    except FeedbackStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
