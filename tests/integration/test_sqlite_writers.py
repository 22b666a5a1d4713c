"""SQLite's writers take turns: the threads of a process on a lock, the processes on a lock file, a forked child
with a lock of its own."""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from pathlib import Path

from conveyor.db import WriterQueue


def _read_within(fd: int, seconds: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], seconds)
    return os.read(fd, 16) if ready else b""


def test_threads_of_a_process_write_one_at_a_time(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db.write-lock")
    inside: list[int] = []
    most: list[int] = [0]

    def write() -> None:
        for _ in range(20):
            with queue.turn():
                inside.append(1)
                most[0] = max(most[0], len(inside))
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.close()
    assert most[0] == 1


def test_a_forked_child_waits_for_the_parent_holding_the_turn(tmp_path: Path) -> None:
    """The parent holds its turn while it forks (its thread lock taken, its lock file locked): the child must neither
    inherit the taken thread lock (it would wait for ever) nor the parent's lock (it would not wait at all)."""
    queue = WriterQueue(tmp_path / "db.write-lock")
    with queue.turn():  # opens this process's lock file and holds it
        pass
    read_end, write_end = os.pipe()
    with queue.turn():
        pid = os.fork()
        if pid == 0:  # the child: report when its turn comes, then leave without running any of pytest's code
            try:
                os.write(write_end, b"asking")
                with queue.turn():
                    os.write(write_end, b"|writing")
            finally:
                os._exit(0)
        try:
            assert _read_within(read_end, 10) == b"asking"
            assert _read_within(read_end, 0.5) == b"", "the child wrote while the parent held its turn"
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise
    try:
        assert _read_within(read_end, 10) == b"|writing", "the child never had its turn"
    finally:
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        queue.close()
        os.close(read_end)
        os.close(write_end)


def _descriptors_of(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_the_lock_file_stays_open_between_turns_until_closed(tmp_path: Path) -> None:
    path = tmp_path / "db.write-lock"
    queue = WriterQueue(path)
    for _ in range(3):
        with queue.turn():
            pass
    assert _descriptors_of(path) == 1  # opened once, not once a transaction
    queue.close()
    assert _descriptors_of(path) == 0
    with queue.turn():
        assert _descriptors_of(path) == 1
    del queue  # a queue collected without being closed closes its lock file too
    assert _descriptors_of(path) == 0
