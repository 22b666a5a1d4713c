"""One bash process for a whole build, so assignments, `export` and `cd` carry from command to command.

Lifecycle of a `ShellSession`:

1. `start()` launches `bash --noprofile --norc` in its own process group, in the source directory, with the
   build's environment. Its stdout and stderr are one pipe.
2. `run_batch(commands)` writes a list of commands to bash's stdin at once; bash `eval`s them one after the other
   with stdin from /dev/null and stops at the first that fails (the rest of the batch is skipped, as a phase's
   `commands` are). Around each command it writes markers (a per-session random token, the command's index, its
   exit status) on a descriptor the user's commands do not touch. `run_batch` reads the pipe itself, on the calling
   thread, handing every chunk of output to `on_output` and each start to `on_start`, in order: all output of a
   command has been delivered when its result is known. Sending the whole batch keeps bash from waiting on Python
   between commands. Between reads the session lets a run of quick commands fill the pipe (COALESCE_SECONDS), so
   it wakes once for many markers rather than once per command, while a byte on a second pipe, written when the
   batch ends or the shell exits, ends that wait at once. `run(command)` is a batch of one.
3. A command that ends the shell (`exit 3`, `set -e` and a failure) fires bash's EXIT trap, which saves the shell
   state (variables, functions, working directory) before reporting the status. The next `run` starts a new bash
   that restores that state, so later phases still see what earlier ones set. Background jobs of the old shell
   keep running, and their output keeps arriving.
4. `close()` ends bash, kills every process group the session started (background jobs included) and every process
   that left them (`setsid` daemons: each process of the session inherits a variable naming it, found in /proc),
   and delivers the last output. `kill()` may be called from another thread to stop the session at once.

`fresh_shell_per_command=True` gives buildspec 0.1 behaviour: each command starts from the initial state.
`posix=True` (for `env.shell: /bin/sh`) runs bash in POSIX mode.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.build.session_kill import SESSION_VARIABLE, kill_session
from conveyor.build.shell_script import batch_script, driver
from conveyor.errors import ConveyorError

_DRAIN_SECONDS = 5.0
COALESCE_SECONDS = 0.01  # well under the log's own flush interval: followers see no difference
_READ_SIZE = 65536


class ShellError(ConveyorError):
    """The shell itself could not be started or talked to (Conveyor's fault, not the build's)."""


class CommandTimeout(ShellError):
    """A command did not finish before its deadline; the shell's process group was killed."""


@dataclass(frozen=True)
class _Status:
    kind: str  # S: a command starts; R: it ended; D: the batch ended; X: the shell exited; EOF: the pipe closed
    batch: int
    index: int
    code: int


@dataclass(frozen=True)
class CommandResult:
    index: int  # position in the batch
    exit_status: int


def _wake_pipe() -> tuple[int, int]:
    """A pipe (read end, write end) whose write end a child can inherit beside its stdin, stdout and stderr."""
    read_end, write_end = os.pipe()
    if write_end > 2:
        return read_end, write_end
    above = fcntl.fcntl(write_end, fcntl.F_DUPFD_CLOEXEC, 3)  # 0-2 are the child's standard streams
    os.close(write_end)
    return read_end, above


@dataclass
class _Stream:
    """The output pipe of one bash process of the session."""

    process: subprocess.Popen[bytes]
    fd: int
    pending: bytes = b""
    statuses: list[_Status] = field(default_factory=list)


class ShellSession:
    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str],
        state_dir: Path,
        on_output: Callable[[bytes], None],
        *,
        posix: bool = False,
        fresh_shell_per_command: bool = False,
        wrapper: list[str] | None = None,
    ) -> None:
        self.cwd = cwd
        self.wrapper = wrapper or []  # a command prefix to run bash under (a sandbox)
        self.session_id = secrets.token_hex(12)
        self.env = {**env, SESSION_VARIABLE: self.session_id}
        self.state_file = state_dir / "shell-state.sh"
        self.on_output = on_output
        self.posix = posix
        self.fresh = fresh_shell_per_command
        self._token = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._streams: list[_Stream] = []  # the current shell's last; older ones stay while background jobs write
        self._groups: list[int] = []  # every process group started: background jobs may outlive their shell
        self._used = False
        self._pattern = re.compile(rb"\n?" + self._token.encode() + rb" ([SRXD]) (\d+) (\d+) (\d+)\n")
        self._batches = 0
        self._on_start: tuple[int, int, Callable[[int], None] | None] = (0, 0, None)  # batch, its size, callback
        self._wake: int | None = None  # the current shell's wake-up pipe (read end)
        self._settle = False  # the last read emptied the pipe: let more output gather before the next one

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.state_file.unlink(missing_ok=True)
        self._spawn(restore=False)

    def switch(self, wrapper: list[str]) -> None:
        """Run the next commands under another prefix (another user): a new shell, with the current one's state."""
        if wrapper == self.wrapper:
            return
        self.wrapper = list(wrapper)
        if self._process is not None and self._process.poll() is None:
            self._respawn()

    def run(self, command: str, timeout: float | None = None) -> int:
        """Run one command and return its exit status; raises CommandTimeout past `timeout`."""
        return self.run_batch([command], timeout)[0].exit_status

    def run_batch(
        self,
        commands: list[str],
        timeout: float | None = None,
        on_start: Callable[[int], None] | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[CommandResult]:
        """Run commands in order until one fails; the results of those that ran. Raises CommandTimeout.

        A command that ends the shell with status 0 (`exit 0`) succeeded: the rest run in a new shell that has
        the old one's state. In buildspec 0.1 mode every command gets a new shell from the initial state.
        `meanwhile` is called once the commands are on their way, while the first of them runs; if it raises,
        the shell is killed and the error raised (nothing runs on without it).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        results: list[CommandResult] = []
        offset = 0
        while offset < len(commands):
            part = commands[offset : offset + 1] if self.fresh else commands[offset:]
            shifted = None if on_start is None else (lambda i, o=offset: on_start(i + o))
            ran, shell_ended = self._send(part, deadline, timeout, shifted, meanwhile if offset == 0 else None)
            results += [CommandResult(r.index + offset, r.exit_status) for r in ran]
            if results and results[-1].exit_status != 0:
                break
            offset = results[-1].index + 1 if results else len(commands)
            if not shell_ended and not self.fresh:
                break
        return results

    def _send(
        self,
        commands: list[str],
        deadline: float | None,
        timeout: float | None,
        on_start: Callable[[int], None] | None,
        meanwhile: Callable[[], None] | None = None,
    ) -> tuple[list[CommandResult], bool]:
        if self._process is None or self._process.poll() is not None or (self.fresh and self._used):
            self._respawn()
        self._used = True
        self._settle = False  # the batch's first marker is read as soon as it comes
        assert self._process is not None
        assert self._process.stdin is not None
        self._batches += 1
        batch = self._batches
        script = self.state_file.with_name(f"batch-{batch}.sh")
        script.write_text(batch_script(batch, commands, self._token))
        try:
            self._process.stdin.write(f"{batch} {script}".encode() + b"\0")
            self._process.stdin.flush()
        except BrokenPipeError:
            self._respawn()
            return self._send(commands, deadline, timeout, on_start, meanwhile)
        try:
            if meanwhile is not None:
                self._alongside(meanwhile)
            return self._collect(batch, len(commands), deadline, timeout, on_start)
        finally:
            script.unlink(missing_ok=True)

    def _collect(
        self,
        batch: int,
        count: int,
        deadline: float | None,
        timeout: float | None,
        on_start: Callable[[int], None] | None,
    ) -> tuple[list[CommandResult], bool]:
        """Follow one batch's markers; also says whether the shell ended (`exit`, `set -e`, killed)."""
        results: list[CommandResult] = []
        started = -1
        self._on_start = (batch, count, on_start)  # called as the markers are read, in order with the output
        while True:
            status = self._wait_status(deadline, timeout)
            if status.kind in ("X", "EOF"):  # the shell ended inside the command that had started
                self._reap()
                if started >= 0 and (not results or results[-1].index != started):
                    results.append(CommandResult(started, status.code))
                elif not results:
                    results.append(CommandResult(0, status.code or 1))
                return results, True
            if status.batch != batch:
                continue  # a late marker of an earlier batch
            if status.kind == "S":
                started = status.index
                continue
            if status.kind == "R" and status.code == 0:
                started = status.index + 1  # the end of one command is the start of the next
            if status.kind == "D":  # the batch ended early: a top-level `return` in the command that had started
                results.append(CommandResult(max(started, 0), status.code))
                return results, True
            results.append(CommandResult(status.index, status.code))
            if status.code != 0 or status.index == count - 1:
                return results, False

    def _alongside(self, meanwhile: Callable[[], None]) -> None:
        try:
            meanwhile()
        except BaseException:
            current = self._streams[-1]
            self._kill_current()
            self._drain(time.monotonic() + _DRAIN_SECONDS, only=current)
            self._reap()
            raise

    def close(self) -> None:
        """End the session: every process it started is killed (nothing of a build may outlive it)."""
        self.kill()
        self._reap()
        self._close_wake()
        self._drain(time.monotonic() + _DRAIN_SECONDS)

    def kill(self) -> None:
        """Kill every process the session started (safe from another thread: the running `run` returns)."""
        kill_session(self._groups, self.session_id)

    def __enter__(self) -> ShellSession:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    # -- internals ------------------------------------------------------------------------------------------------

    def _respawn(self) -> None:
        process = self._process
        if process is not None and process.poll() is None and process.stdin is not None:
            process.stdin.close()  # the shell ends at end of input; its background jobs live on until close()
        self._reap()
        self._spawn(restore=not self.fresh)

    def _spawn(self, restore: bool) -> None:
        self._close_wake()
        wake, wake_end = _wake_pipe()
        try:
            self._process = subprocess.Popen(
                [
                    *self.wrapper,
                    "bash",
                    "--noprofile",
                    "--norc",
                    *(["--posix"] if self.posix else []),
                    "-c",
                    driver(self._token, self.state_file, restore=restore, wake=wake_end),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
                pass_fds=(wake_end,),
            )
        except OSError as exc:
            os.close(wake)
            raise ShellError(f"could not start bash: {exc}") from exc
        finally:
            os.close(wake_end)
        self._wake = wake
        assert self._process.stdout is not None
        self._groups.append(self._process.pid)
        self._streams.append(_Stream(self._process, self._process.stdout.fileno()))

    def _wait_status(self, deadline: float | None, timeout: float | None) -> _Status:
        """Read every open pipe until the current shell reports something (or its pipe closes)."""
        current = self._streams[-1]
        while not current.statuses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self._kill_current()
                self._drain(time.monotonic() + _DRAIN_SECONDS, only=current)
                self._reap()
                raise CommandTimeout(f"the command did not finish within {timeout:g} s")
            if self._settle and self._wake is not None:  # one wake-up for many quick commands' markers
                pause = COALESCE_SECONDS if remaining is None else min(COALESCE_SECONDS, remaining)
                select.select([self._wake], [], [], pause)  # the batch's end or the shell's exit cuts it short
            self._pump(remaining)
        return current.statuses.pop(0)

    def _pump(self, timeout: float | None) -> None:
        wake = [] if self._wake is None else [self._wake]
        readable, _, _ = select.select([s.fd for s in self._streams] + wake, [], [], timeout)
        if wake and wake[0] in readable and not os.read(wake[0], 4096):
            self._close_wake()  # the shell closed it (or is gone): its reads are no longer to be coalesced
        sizes = []
        for stream in [s for s in self._streams if s.fd in readable]:
            chunk = os.read(stream.fd, _READ_SIZE)
            sizes.append(len(chunk))
            if chunk:
                stream.pending = self._emit_complete(stream, stream.pending + chunk)
            else:
                self._end(stream)
        self._settle = bool(sizes) and 0 < max(sizes) < _READ_SIZE  # after a full read, more waits: read on at once

    def _close_wake(self) -> None:
        if self._wake is not None:
            os.close(self._wake)
            self._wake = None

    def _end(self, stream: _Stream) -> None:
        if stream.pending:
            self.on_output(stream.pending)
            stream.pending = b""
        if stream.process.stdout is not None:
            stream.process.stdout.close()
        self._streams.remove(stream)
        code = stream.process.wait()
        stream.statuses.append(_Status("EOF", 0, 0, 128 - code if code < 0 else code))

    def _drain(self, deadline: float, only: _Stream | None = None) -> None:
        """Deliver what is left in the pipes once their writers are gone (or the deadline passes)."""
        while (only in self._streams) if only is not None else self._streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                for stream in list(self._streams if only is None else [only]):
                    self._end(stream)
                return
            self._pump(remaining)

    def _emit_complete(self, stream: _Stream, pending: bytes) -> bytes:
        """Hand over output up to each marker, and the markers' statuses; keep what may be a partial marker."""
        position = 0
        current_batch, count, on_start = self._on_start
        for match in self._pattern.finditer(pending):  # one pass over what was read, however many markers
            if match.start() > position:
                self.on_output(pending[position : match.start()])
            kind, batch, index, code = match.groups()
            status = _Status(kind.decode(), int(batch), int(index), int(code))
            stream.statuses.append(status)
            if status.batch == current_batch and on_start is not None:
                if status.kind == "S":
                    on_start(status.index)
                elif status.kind == "R" and status.code == 0 and status.index + 1 < count:
                    on_start(status.index + 1)
            position = match.end()
        keep = len(self._token) + 16  # a marker may be split across reads: hold back its possible start
        cut = pending.rfind(b"\n", position, max(position, len(pending) - keep))
        if cut >= 0:
            self.on_output(pending[position : cut + 1])
            position = cut + 1
        elif len(pending) - position > 65536:
            self.on_output(pending[position:-keep])
            position = len(pending) - keep
        return pending[position:]

    def _kill_current(self) -> None:
        if self._groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._groups[-1], signal.SIGKILL)

    def _reap(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill_current()
            process.wait()
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        self._process = None
