"""Bring the schema to the newest Alembic revision, once, even when several processes start together."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from conveyor.db import Database, file_lock
from conveyor.errors import ServiceUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")
_PG_LOCK_KEY = 0x436F6E76  # any constant: one advisory lock for schema changes


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(database: Database) -> None:
    """Upgrade to head under a lock; a no-op when already there. A database that cannot be reached is a
    `ServiceUnavailable` naming it (without its password), not the driver's traceback."""
    config = alembic_config()
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with _schema_lock(database) as connection:
            if MigrationContext.configure(connection).get_current_revision() == head:
                return
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
    except OperationalError as exc:
        raise ServiceUnavailable(f"cannot reach the database {database.describe()}: {str(exc.orig).strip()}") from exc


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def _schema_lock(database: Database) -> Iterator[Connection]:
    if database.is_sqlite:
        path = make_url(database.url).database
        lock_path = Path(f"{path}.migrate.lock") if path and path != ":memory:" else None
        with file_lock(lock_path), database.engine.connect() as connection:
            connection.commit()  # end the implicit BEGIN IMMEDIATE before Alembic begins its own
            yield connection
        return
    with database.engine.connect() as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        connection.commit()
        try:
            yield connection
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
            connection.commit()
