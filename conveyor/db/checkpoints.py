"""Checkpoints of a SQLite database's write-ahead log, from a background thread rather than inside commits.

By default SQLite checkpoints in whichever commit takes the log past 1,000 pages: that commit copies the log back
into the database file and syncs it before it returns, while it still holds the write lock every other writer is
queued behind. Under a steady stream of small writes (webhook deliveries, slash commands) that made one commit in a
few hundred take 100-170 ms, and every request waiting for the lock waited as long. A long-running process turns
those checkpoints off on its connections and runs them here instead:

* every `interval`, a PASSIVE checkpoint copies what no reader still needs, without the write lock: writers carry
  on while it copies and syncs;
* the log starts again from its beginning only when a writer finds all of it copied, which a steady stream of
  writes may never leave time for. So once the log holds more than `restart_frames` pages, the thread takes a
  writer's turn (every writer of every process waits) and checkpoints with RESTART: what is left to copy is what
  came since the PASSIVE one a moment before, and the sync has little left to write, so the wait is short. The log
  file is then cut back to `LOG_SIZE_LIMIT` by the next writer (`journal_size_limit`, set on every connection).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

log = logging.getLogger(__name__)

LOG_SIZE_LIMIT = 64 * 1024 * 1024  # bytes the log file keeps once it starts again
# Seconds a RESTART waits for readers still on the log's start, while writers wait for it: a thread that opened a
# writer's transaction inside a read of its own would otherwise hold everyone up until then. Busy: the next tick.
READERS_WAIT = 0.2


class WalCheckpointer:
    """Checkpoints `path`'s log every `interval` seconds on a connection of its own, until `stop`."""

    def __init__(
        self,
        path: str,
        writer_turn: Callable[[], AbstractContextManager[None]],
        interval: float = 0.5,
        restart_frames: int = 8192,
    ) -> None:
        self.path = path
        self.interval = interval
        self.restart_frames = restart_frames
        self.restarts = 0  # times the log was started again from its beginning
        self._writer_turn = writer_turn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    connection = connection or sqlite3.connect(self.path, timeout=READERS_WAIT, check_same_thread=False)
                    self.checkpoint(connection)
                except sqlite3.Error as exc:  # the file away for a moment: try again at the next tick
                    log.warning("checkpoint of %s not done: %s", self.path, exc)
        finally:
            if connection is not None:
                connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        _busy, in_log, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if in_log <= self.restart_frames:
            return
        with self._writer_turn():
            busy, _in_log, _copied = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        if not busy:
            self.restarts += 1
