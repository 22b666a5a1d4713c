"""The one way to SQL: an engine per process and short sessions, on SQLite (default) or PostgreSQL.

`session()` is a read-write transaction, `reader()` a read-only one, `rehearsal()` a read-write one that is
always rolled back. On PostgreSQL `lock()` is
`SELECT ... FOR UPDATE`. SQLite has no row locks, so there every read-write transaction begins with
`BEGIN IMMEDIATE`: a read-modify-write under `lock()` cannot interleave with another writer, and WAL lets readers
go on meanwhile. Writers from several processes queue on a file lock before they begin, because SQLite's own busy
handler polls with growing sleeps (up to 100 ms) and makes a queue of writers slow and unfair.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, Select, and_, create_engine, event, or_, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from conveyor.config import make_folder
from conveyor.db.checkpoints import LOG_SIZE_LIMIT, WalCheckpointer
from conveyor.errors import ConfigurationError, ServiceUnavailable

T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Accept the usual spellings of a database URL and pick the installed driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not (url.startswith("sqlite") or url.startswith("postgresql+")):
        raise ConfigurationError(
            f"unsupported database URL scheme in {_redacted(url)}: use sqlite:/// or postgresql://"
        )
    return url


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split(":", 1)[0] + "://…"


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._checkpointer: WalCheckpointer | None = None  # read by new connections: see checkpoint_in_background
        self.engine = self._create_engine(echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine.execution_options(conveyor_read_only=True), expire_on_commit=False)
        lock_path = _write_lock_path(self.url) if self.is_sqlite else None
        self._writers = WriterQueue(lock_path) if lock_path is not None else None
        self._ahead: threading.Thread | None = None

    def checkpoint_in_background(self, interval: float = 0.5, restart_frames: int = 8192) -> None:
        """In a long-running process on a SQLite file: checkpoint the write-ahead log from a background thread, and
        never in this process's commits (`conveyor.db.checkpoints`). Nothing to do on PostgreSQL."""
        path = make_url(self.url).database
        if not self.is_sqlite or not path or path == ":memory:" or self._checkpointer is not None:
            return
        self._checkpointer = WalCheckpointer(path, self._writer_turn, interval, restart_frames)
        self.engine.dispose()  # connections opened from now on leave checkpoints to it

    def _create_engine(self, echo: bool) -> Engine:
        if not self.is_sqlite:
            return create_engine(self.url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10)
        path = make_url(self.url).database
        if path and path != ":memory:":
            make_folder(Path(path).parent, "folder of the SQLite database")
        engine = create_engine(self.url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", self._sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine

    def _sqlite_on_connect(self, dbapi_connection: Any, record: Any) -> None:
        _sqlite_on_connect(dbapi_connection, record)
        if self._checkpointer is not None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")

    def connect_ahead(self) -> None:
        """Open a connection on a background thread now, for the next transaction to take from the pool: a freshly
        forked work horse connects while its queue's bookkeeping runs instead of after it."""
        self._ahead = threading.Thread(target=self._open_connection, name="connect-ahead", daemon=True)
        self._ahead.start()

    def _open_connection(self) -> None:
        try:
            with self.engine.connect():
                pass  # back into the pool, open
        except DBAPIError:
            pass  # the first transaction connects again, and says why it cannot

    def _await_ahead(self) -> None:
        ahead = self._ahead
        if ahead is not None:
            ahead.join()
            self._ahead = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-write transaction: committed when the block ends, rolled back if it raises."""
        self._await_ahead()
        with self._writer_turn():
            session = self._sessions()
            try:
                yield session
                session.commit()
            except OperationalError as exc:
                session.rollback()
                raise ServiceUnavailable(f"the database is unavailable: {exc.orig}") from exc
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def rehearsal(self) -> Iterator[Session]:
        """A read-write transaction that is always rolled back: statements run once, and nothing they did is kept."""
        self._await_ahead()
        with self._writer_turn():
            session = self._sessions()
            try:
                yield session
            except OperationalError as exc:
                raise ServiceUnavailable(f"the database is unavailable: {exc.orig}") from exc
            finally:
                session.rollback()
                session.close()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if self._writers is None:
            yield
            return
        with self._writers.turn():
            yield

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only transaction, which never waits for writers (nor makes them wait, on SQLite)."""
        self._await_ahead()
        session = self._readers()
        try:
            yield session
        except OperationalError as exc:
            raise ServiceUnavailable(f"the database is unavailable: {exc.orig}") from exc
        finally:
            session.close()  # ends the transaction; what was loaded stays readable on the detached objects

    def ping(self) -> None:
        self._await_ahead()
        with self.engine.execution_options(conveyor_read_only=True).connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self, close: bool = True) -> None:
        self._await_ahead()
        self.engine.dispose(close=close)
        if close and self._writers is not None:
            self._writers.close()
        if close and self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None

    def describe(self) -> str:
        return _redacted(self.url)


def insert_many_unless_present(session: Session, model: type[Any], rows: list[dict[str, Any]], unique: str) -> set[Any]:
    """Insert the rows whose `unique` value is not in the table yet, with one statement; returns the values of
    those inserted. Rows must not repeat a `unique` value among themselves."""
    if not rows:
        return set()
    connection = session.connection()
    statement = _insert_unless_present(model.__table__, connection.dialect.name, unique)
    return set(connection.execute(statement, rows).scalars())


@cache
def _insert_unless_present(table: Any, dialect: str, unique: str) -> Any:
    insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return insert(table).on_conflict_do_nothing(index_elements=[unique]).returning(table.c[unique])


def newest_first(query: Select[Any], columns: list[Any], after: list[Any] | None, limit: int) -> Select[Any]:
    """`query` in descending order of `columns` (a time, then an id to break ties), from just past the place `after`
    (the last row of the previous page: its values of `columns`), one row more than `limit` so the caller can tell
    whether another page follows."""
    query = query.order_by(*(column.desc() for column in columns)).limit(limit + 1)
    if after is None:
        return query
    earlier: list[ColumnElement[bool]] = []
    for position, column in enumerate(columns):  # (a, b) < (x, y): a < x, or a = x and b < y
        same = [columns[n] == after[n] for n in range(position)]
        earlier.append(and_(*same, column < after[position]))
    # a ≤ x first: a range an index on the columns starts reading at, where the OR alone has it read from the top
    return query.where(columns[0] <= after[0], or_(*earlier))


def lock(session: Session, model: type[T], key: Any, *, key_share: bool = False) -> T | None:
    """Load one row and hold it until the transaction ends (FOR UPDATE; SQLite holds the whole database).

    `key_share` locks FOR NO KEY UPDATE instead: the row's key does not change, so rows that refer to it (a foreign
    key takes FOR KEY SHARE on the row it names) can still be inserted meanwhile. Parent rows that many children
    refer to (a pipeline, which its executions and events name) must be locked this way, or two transactions that
    each inserted a child and then lock the parent wait on each other.
    """
    for_update: Any = {"key_share": True} if key_share else True
    return session.get(model, key, with_for_update=for_update, populate_existing=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself, see below
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA journal_size_limit={LOG_SIZE_LIMIT}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    read_only = connection.get_execution_options().get("conveyor_read_only", False)
    # straight to the driver: the statement needs none of the execution machinery (events, results), and every
    # transaction on SQLite begins here
    connection.connection.driver_connection.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _write_lock_path(url: str) -> Path | None:
    path = make_url(url).database
    return Path(f"{path}.write-lock") if path and path != ":memory:" else None


class WriterQueue:
    """The writers of one SQLite database file, in turn: the threads of a process queue on a lock, and the process
    holding it queues with the other processes on an exclusive `flock` of `path` (woken in turn by the kernel).

    The lock file is opened once per process rather than for every transaction. A forked child opens its own: a
    descriptor it inherited shares its lock with the parent's (flock locks belong to the open file), and a thread
    lock held by another thread at the fork would never be released in the child."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._descriptor: list[int] = []  # the open lock file, once a turn has been taken
        weakref.finalize(self, _close_all, self._descriptor)  # closed too when the queue is collected unclosed
        _WRITER_QUEUES.add(self)

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            if not self._descriptor:
                self._descriptor.append(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644))
            descriptor = self._descriptor[0]
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (the next turn opens it again)."""
        with self._threads:
            _close_all(self._descriptor)

    def forked(self) -> None:
        self._threads = threading.Lock()
        _close_all(self._descriptor)  # the child's copy only: the parent keeps its lock for as long as it holds it


def _close_all(descriptors: list[int]) -> None:
    while descriptors:
        os.close(descriptors.pop())


_WRITER_QUEUES: weakref.WeakSet[WriterQueue] = weakref.WeakSet()


def _writers_forked() -> None:
    for queue in list(_WRITER_QUEUES):
        queue.forked()


os.register_at_fork(after_in_child=_writers_forked)


@contextmanager
def file_lock(path: Path | None) -> Iterator[None]:
    """Hold an exclusive lock on `path` (waiters are woken in turn by the kernel); no-op for None."""
    if path is None:
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
