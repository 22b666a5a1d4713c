"""A build's log: the output of its commands and Conveyor's own `[Container]` lines, in order, to a file.

Output arrives in chunks; lines are written whole, and a command's last line that lacks a newline is ended before the
next `[Container]` line, so the log always reads line by line. Writes are buffered and flushed at most every
`FLUSH_SECONDS` by a background thread (and at close), so a build of many quick commands does not pay a system call
per line; each flushed piece also goes to `on_flush` (live log streaming). Every line passes through `mask` first
(secret values become ***): output is masked line by line, so a value split across chunks of output is still
hidden; a line longer than `LONGEST_LINE` is cut, keeping back enough to catch a value at the cut.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

FLUSH_SECONDS = 0.1
LONGEST_LINE = 64 * 1024


class Masking(Protocol):
    @property
    def longest(self) -> int: ...

    def __call__(self, text: str) -> str: ...


class BuildLog:
    def __init__(
        self,
        path: Path,
        on_flush: Callable[[str], None] | None = None,
        mask: Masking | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = path
        self.clock = clock  # nanoseconds since the epoch
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("w", encoding="utf-8", errors="replace")
        self._partial = ""
        self._unflushed: list[str] = []
        self._lock = threading.Lock()
        self._on_flush = on_flush
        self.mask = mask
        self._closed = threading.Event()
        self._second: tuple[int, str] = (-1, "")  # the last whole second stamped, formatted
        self._flusher = threading.Thread(target=self._flush_periodically, name="build-log-flush", daemon=True)
        self._flusher.start()

    def container(self, message: str) -> None:
        """Write one of Conveyor's own lines, CodeBuild style."""
        stamp = self._stamp(self.clock() // 1000)
        with self._lock:
            self._end_partial()
            self._write(f"[Container] {stamp} {message}\n")

    def output(self, data: bytes) -> None:
        """Write raw command output."""
        text = data.decode("utf-8", errors="replace")
        with self._lock:
            text = self._partial + text
            complete, _, self._partial = text.rpartition("\n")
            if complete or text.endswith("\n"):
                self._write(complete + "\n")
            if len(self._partial) > LONGEST_LINE:
                keep = self.mask.longest if self.mask is not None else 0
                self._write(self._partial[: len(self._partial) - keep])
                self._partial = self._partial[len(self._partial) - keep :]

    def close(self) -> None:
        self._closed.set()
        self._flusher.join(timeout=5)
        with self._lock:
            self._end_partial()
            self._flush()
            self._file.close()

    def _stamp(self, microseconds: int) -> str:
        """`2024/05/01 12:00:00.123456` (UTC), formatting the date and time once per second (a line per command)."""
        second, fraction = divmod(microseconds, 1_000_000)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{fraction:06d}"

    def _end_partial(self) -> None:
        if self._partial:
            self._write(self._partial + "\n")
            self._partial = ""

    def _write(self, text: str) -> None:
        self._unflushed.append(self.mask(text) if self.mask is not None else text)

    def _flush(self) -> None:
        if not self._unflushed:
            return
        text = "".join(self._unflushed)
        self._unflushed.clear()
        self._file.write(text)
        self._file.flush()
        if self._on_flush is not None:
            self._on_flush(text)

    def _flush_periodically(self) -> None:
        while not self._closed.wait(FLUSH_SECONDS):
            with self._lock:
                self._flush()


@dataclass(frozen=True)
class LogEvent:
    """A piece of a build's log as a follower reads it (`conveyor.build.views.follow_log`, the API's event stream)."""

    kind: str  # "log": a piece of the log; "end": the log is complete (text: the build status)
    event_id: str
    text: str
