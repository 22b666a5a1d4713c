"""Migration 0017 on SQLite and PostgreSQL: the schedules' tables come with it and go with its downgrade."""

from __future__ import annotations

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from conveyor.db import Database
from conveyor.db.migrate import alembic_config, current_revision, upgrade


def test_0017_creates_the_schedule_tables_and_its_downgrade_removes_them(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    try:
        upgrade(database)
        tables = set(inspect(database.engine).get_table_names())
        assert {"schedules", "schedule_firings"} <= tables
        with database.engine.connect() as connection:
            indexes = {i["name"] for i in inspect(connection).get_indexes("schedules")}
            uniques = inspect(connection).get_unique_constraints("schedule_firings")
        assert "ix_schedules_next_fire_at" in indexes
        assert [u["column_names"] for u in uniques] == [["schedule_id", "slot"]]

        config = alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0016")
        assert current_revision(database) == "0016"
        assert not {"schedules", "schedule_firings"} & set(inspect(database.engine).get_table_names())

        upgrade(database)
        assert current_revision(database) == ScriptDirectory.from_config(config).get_current_head()
        assert {"schedules", "schedule_firings"} <= set(inspect(database.engine).get_table_names())
    finally:
        database.dispose()
