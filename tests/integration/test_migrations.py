"""The schema comes from Alembic migrations, once, even when several processes start together."""

from __future__ import annotations

import multiprocessing
import socket

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from conveyor.db import Database
from conveyor.db.migrate import alembic_config, current_revision, upgrade
from conveyor.db.models import Base
from conveyor.errors import ServiceUnavailable


def _upgrade(url: str) -> None:
    database = Database(url)
    try:
        upgrade(database)
    finally:
        database.dispose()


def test_processes_starting_together_migrate_once_and_agree(empty_database_url: str) -> None:
    database_url = empty_database_url
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_upgrade, args=(database_url,)) for _ in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    database = Database(database_url)
    try:
        assert current_revision(database) == ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert {"pipelines", "pipeline_executions", "builds", "dispatches", "webhook_deliveries"} <= set(
            inspect(database.engine).get_table_names()
        )
        upgrade(database)  # at head already: nothing to do, no error
        with database.engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == [], "the models and the migrations disagree"
    finally:
        database.dispose()


def test_a_database_that_cannot_be_reached_is_named_without_its_password() -> None:
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        database = Database(f"postgresql://conveyor:s3cret-word@127.0.0.1:{port}/app")
        try:
            with pytest.raises(ServiceUnavailable) as caught:
                upgrade(database)
        finally:
            database.dispose()

    message = caught.value.message
    assert message.startswith(f"cannot reach the database postgresql+psycopg://conveyor:***@127.0.0.1:{port}/app: ")
    assert "Connection refused" in message
    assert "s3cret-word" not in message
