"""A connection opened ahead, on a background thread, is the one the next transaction takes (SQLite, PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, select

from conveyor.db import Database
from conveyor.db.models import Dispatch
from conveyor.runtime import Runtime


def opened_by(db: Database) -> list[str]:
    """The names of the threads that open each new connection from now on."""
    names: list[str] = []

    def connected(_dbapi_connection: Any, _record: Any) -> None:
        names.append(threading.current_thread().name)

    event.listen(db.engine, "connect", connected)
    return names


def test_the_next_transactions_use_the_connection_opened_ahead(rt: Runtime) -> None:
    rt.db.dispose(close=False)  # as in a freshly forked work horse: no connection of its own yet
    names = opened_by(rt.db)

    rt.db.connect_ahead()
    with rt.db.session() as session:
        session.execute(select(Dispatch.id)).all()
    with rt.db.reader() as session:
        session.execute(select(Dispatch.id)).all()

    assert names == ["connect-ahead"]


def test_without_a_connection_ahead_the_first_transaction_connects(rt: Runtime) -> None:
    rt.db.dispose(close=False)
    names = opened_by(rt.db)

    with rt.db.session() as session:
        session.execute(select(Dispatch.id)).all()

    assert names == [threading.current_thread().name]
