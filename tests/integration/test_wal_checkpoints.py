"""Checkpoints of SQLite's write-ahead log: by default a commit that takes the log past 1,000 pages copies it into
the database file itself; in a long-running process (`checkpoint_in_background`) no commit does, and a background
thread copies it instead."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sqlalchemy import text

from conveyor.db import Database

MEGABYTE = 1024 * 1024


def _write_eight_megabytes(db: Database) -> None:
    with db.session() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS payloads (body BLOB)"))
    for _ in range(8):
        with db.session() as session:
            session.execute(text("INSERT INTO payloads VALUES (:body)"), [{"body": os.urandom(64 * 1024)}] * 16)


def _autocheckpoint(db: Database) -> int:
    with db.session() as session:
        return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def _checkpointer_threads() -> int:
    return sum(thread.name == "wal-checkpoints" for thread in threading.enumerate())


def test_by_default_commits_copy_the_log_into_the_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        _write_eight_megabytes(db)
        assert _autocheckpoint(db) == 1000
        assert (tmp_path / "app.db").stat().st_size > 4 * MEGABYTE
    finally:
        db.dispose()


def test_in_the_background_no_commit_copies_the_log(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.checkpoint_in_background(interval=3600)  # it will not run while this test writes
    try:
        _write_eight_megabytes(db)
        assert _autocheckpoint(db) == 0
        assert (tmp_path / "app.db").stat().st_size < MEGABYTE  # all of it still in the log
        assert (tmp_path / "app.db-wal").stat().st_size > 8 * MEGABYTE
    finally:
        db.dispose()
    assert _checkpointer_threads() == 0  # disposing stopped it


def test_the_background_thread_copies_the_log_into_the_database(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.checkpoint_in_background(interval=0.05)
    try:
        _write_eight_megabytes(db)
        deadline = time.monotonic() + 10
        while (tmp_path / "app.db").stat().st_size < 8 * MEGABYTE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "app.db").stat().st_size >= 8 * MEGABYTE
        with db.reader() as session:
            assert session.execute(text("SELECT count(*) FROM payloads")).scalar_one() == 128
    finally:
        db.dispose()


def test_under_a_steady_stream_of_writes_the_log_still_starts_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'app.db'}")
    db.checkpoint_in_background(interval=0.05, restart_frames=256)
    with db.session() as session:
        session.execute(text("CREATE TABLE events (body BLOB)"))
    writing = threading.Event()
    writing.set()

    def write() -> None:  # a commit every moment: never a pause in which a writer finds the whole log copied
        while writing.is_set():
            with db.session() as session:
                session.execute(text("INSERT INTO events VALUES (:body)"), {"body": os.urandom(8192)})

    writer = threading.Thread(target=write)
    writer.start()
    try:
        deadline = time.monotonic() + 10
        checkpointer = db._checkpointer
        assert checkpointer is not None
        while checkpointer.restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        writing.clear()
        writer.join()
    try:
        assert checkpointer.restarts >= 2
        with db.reader() as session:
            assert session.execute(text("SELECT count(*) FROM events")).scalar_one() > 0
    finally:
        db.dispose()
