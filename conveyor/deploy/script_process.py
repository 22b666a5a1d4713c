"""One hook script as a process: its own process group, its output read line by line, killed at its deadline.

Lifecycle of `run_script_process`:

1. The command starts in a new session (so a new process group), stdin from /dev/null, stdout and stderr on two
   pipes, in the given directory with exactly the given environment.
2. Both pipes are read on the calling thread; every complete line goes to `on_line(stream, text)` as it arrives
   (`stream` is "stdout" or "stderr"), a line cut short by the end of the output included.
3. The script is done when it has exited **and** both pipes are closed, as with the CodeDeploy agent: a background
   process that keeps the script's stdout or stderr open (a service started without redirecting its output) holds
   the script until its deadline.
4. At the deadline the whole process group gets SIGTERM, then, `kill_grace` seconds later, SIGKILL: children and
   background jobs die with the script. A process that left the group (`setsid`) is out of reach, as it is for the
   CodeDeploy agent.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

LONGEST_LINE = 64 * 1024  # a longer line without a newline is handed over in pieces of this size
KILL_GRACE_SECONDS = 5.0

LineSink = Callable[[str, str], None]


@dataclass(frozen=True)
class ProcessOutcome:
    exit_code: int | None  # None when the process was killed at its deadline
    timed_out: bool


def start_script_process(command: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start `command` in a process group of its own; OSError when it cannot be executed."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_script(
    process: subprocess.Popen[bytes],
    timeout: float,
    on_line: LineSink,
    *,
    kill_grace: float = KILL_GRACE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> ProcessOutcome:
    """Read the process's output until it is done or `timeout` seconds pass; at the deadline kill its group."""
    deadline = clock() + timeout
    with _OutputReader(process, on_line) as output:
        output.read_until(deadline, clock)
        if not output.open and _exited_by(process, deadline, clock):
            return ProcessOutcome(process.returncode, timed_out=False)
        _signal_group(process.pid, signal.SIGTERM)
        output.read_until(clock() + kill_grace, clock)
        _signal_group(process.pid, signal.SIGKILL)
    process.wait()
    return ProcessOutcome(None, timed_out=True)


def _exited_by(process: subprocess.Popen[bytes], deadline: float, clock: Callable[[], float]) -> bool:
    try:
        process.wait(timeout=max(0.0, deadline - clock()))
    except subprocess.TimeoutExpired:
        return False
    return True


def _signal_group(group: int, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
        os.killpg(group, signal_number)


class _OutputReader:
    """Reads a process's stdout and stderr pipes together, handing over whole lines."""

    def __init__(self, process: subprocess.Popen[bytes], on_line: LineSink) -> None:
        self._on_line = on_line
        self._selector = selectors.DefaultSelector()
        self._pending: dict[str, bytes] = {}
        for name, pipe in (("stdout", process.stdout), ("stderr", process.stderr)):
            assert pipe is not None
            os.set_blocking(pipe.fileno(), False)
            self._selector.register(pipe, selectors.EVENT_READ, name)
            self._pending[name] = b""

    @property
    def open(self) -> bool:
        return bool(self._selector.get_map())

    def read_until(self, deadline: float, clock: Callable[[], float]) -> None:
        """Read until both pipes are closed or the deadline passes."""
        while self.open:
            remaining = deadline - clock()
            if remaining <= 0:
                return
            for key, _ in self._selector.select(remaining):
                self._read(key)

    def _read(self, key: selectors.SelectorKey) -> None:
        name = str(key.data)
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._close(key)
            return
        pending = self._pending[name] + chunk
        *lines, pending = pending.split(b"\n")
        while len(pending) > LONGEST_LINE:
            lines.append(pending[:LONGEST_LINE])
            pending = pending[LONGEST_LINE:]
        self._pending[name] = pending
        for line in lines:
            self._on_line(name, line.decode("utf-8", errors="replace"))

    def _close(self, key: selectors.SelectorKey) -> None:
        name = str(key.data)
        self._selector.unregister(key.fileobj)
        key.fileobj.close()  # type: ignore[union-attr]
        if self._pending[name]:
            self._on_line(name, self._pending.pop(name).decode("utf-8", errors="replace"))

    def __enter__(self) -> _OutputReader:
        return self

    def __exit__(self, *_: object) -> None:
        """Hand over what is left and close the pipes that are still open (their writers may live on)."""
        for key in list(self._selector.get_map().values()):
            self._close(key)
        self._selector.close()
