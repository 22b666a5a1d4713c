"""One bash process for a whole build, so assignments, `export` and `cd` carry from command to command.

Lifecycle of a `ShellSession`:

1. `start()` launches `bash --noprofile --norc` in its own process group, in the source directory, with the
   build's environment. Its stdout and stderr are one pipe; a reader thread hands every chunk of output to the
   `on_output` callback, in order.
2. `run(command)` writes the command to bash's stdin; bash `eval`s it with stdin from /dev/null, then writes a
   status marker (a per-session random token, the exit status) on a descriptor the user's commands do not touch.
   Because output and markers share one pipe, all output of a command has reached `on_output` before `run`
   returns its exit status.
3. A command that ends the shell (`exit 3`, `set -e` and a failure) fires bash's EXIT trap, which saves the shell
   state (variables, functions, working directory) before reporting the status. The next `run` starts a new bash
   that restores that state, so later phases still see what earlier ones set.
4. `close()` ends bash and kills its whole process group, background jobs included.

`fresh_shell_per_command=True` gives buildspec 0.1 behaviour: each command starts from the initial state.
`posix=True` (for `env.shell: /bin/sh`) runs bash in POSIX mode.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conveyor.errors import ConveyorError

MARKER_FD = 93  # where status markers go; far above the descriptors scripts commonly redirect
_NOT_RESTORED = (
    "BASH* SHELLOPTS EUID UID PPID PWD OLDPWD SHLVL _ FUNCNAME GROUPS DIRSTACK PIPESTATUS LINENO RANDOM SECONDS "
    "SRANDOM EPOCHSECONDS EPOCHREALTIME HISTCMD COMP_WORDBREAKS OPTIND OPTARG IFS PS4 __cv_*"
)


class ShellError(ConveyorError):
    """The shell itself could not be started or talked to (Conveyor's fault, not the build's)."""


class CommandTimeout(ShellError):
    """A command did not finish before its deadline; the shell's process group was killed."""


@dataclass(frozen=True)
class _Status:
    kind: str  # "R": the command ran; "X": the shell exited; "EOF": the pipe closed without a marker
    code: int


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
    ) -> None:
        self.cwd = cwd
        self.env = dict(env)
        self.state_file = state_dir / "shell-state.sh"
        self.on_output = on_output
        self.posix = posix
        self.fresh = fresh_shell_per_command
        self._token = secrets.token_hex(16)
        self._process: subprocess.Popen[bytes] | None = None
        self._statuses: queue.Queue[_Status] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._groups: list[int] = []  # every process group started: background jobs may outlive their shell
        self._used = False

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.state_file.unlink(missing_ok=True)
        self._spawn(restore=False)

    def run(self, command: str, timeout: float | None = None) -> int:
        """Run one command in the shell and return its exit status; raises CommandTimeout past `timeout`."""
        if self._process is None or self._process.poll() is not None or (self.fresh and self._used):
            self._respawn()
        self._used = True
        assert self._process is not None
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(command.encode() + b"\0")
            self._process.stdin.flush()
        except BrokenPipeError:
            self._respawn()
            return self.run(command, timeout)
        status = self._wait_status(timeout)
        if status.kind != "R":
            self._reap()
        return status.code

    def close(self) -> None:
        process = self._process
        if process is not None:  # None once the shell has exited: its background jobs may still be running
            if process.stdin is not None and not process.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self._kill_group(every=True)
        self._reap(join_reader=True)

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
        self._statuses = queue.Queue()
        try:
            self._process = subprocess.Popen(
                ["bash", "--noprofile", "--norc", *(["--posix"] if self.posix else []), "-c", self._driver(restore)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise ShellError(f"could not start bash: {exc}") from exc
        assert self._process.stdout is not None
        self._groups.append(self._process.pid)
        self._reader = threading.Thread(
            target=self._read, args=(self._process.stdout, self._statuses, self._process), daemon=True
        )
        self._reader.start()

    def _driver(self, restore: bool) -> str:
        token, state = self._token, shlex.quote(str(self.state_file))
        skip = "|".join(_NOT_RESTORED.split())
        lines = [
            f"exec {MARKER_FD}>&1",
            f'__cv_mark() {{ printf \'\\n%s %s %d\\n\' {token} "$1" "$2" >&{MARKER_FD}; }}',
            "__cv_save() {",
            "  { declare -f",
            "    for __cv_n in $(compgen -v); do",
            f'      case "$__cv_n" in {skip}) ;; *) declare -p "$__cv_n" 2>/dev/null ;; esac',
            "    done",
            "    printf 'cd -- %q\\n' \"$PWD\"",
            f"  }} > {state} 2>/dev/null",
            "}",
            # `set -x` must trace the user's commands only: a traced marker would be read as a second status
            "trap '{ __cv_rc=$?; set +x; } 2>/dev/null; __cv_save; __cv_mark X \"$__cv_rc\"' EXIT",
            f"[ -f {state} ] && . {state} >/dev/null 2>&1" if restore else ":",
            "__cv_x=",
            "while IFS= read -r -d '' __cv_cmd; do",
            '  case "$__cv_x" in *x*) set -x ;; esac',
            '  eval "$__cv_cmd" </dev/null',
            "  { __cv_rc=$?; __cv_x=$-; set +x; } 2>/dev/null",
            '  __cv_mark R "$__cv_rc"',
            "done",
        ]
        return "\n".join(lines) + "\n"

    def _read(self, stream: IO[bytes], statuses: queue.Queue[_Status], process: subprocess.Popen[bytes]) -> None:
        fd = stream.fileno()
        pattern = re.compile(rb"\n?" + self._token.encode() + rb" ([RX]) (\d+)\n")
        pending = b""
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            pending += chunk
            pending = self._emit_complete(pending, pattern, statuses)
        if pending:
            self.on_output(pending)
        stream.close()
        code = process.wait()
        statuses.put(_Status("EOF", 128 - code if code < 0 else code))

    def _emit_complete(self, pending: bytes, pattern: re.Pattern[bytes], statuses: queue.Queue[_Status]) -> bytes:
        """Hand over output up to each marker, and the markers' statuses; keep what may be a partial marker."""
        while match := pattern.search(pending):
            if match.start():
                self.on_output(pending[: match.start()])
            statuses.put(_Status(match.group(1).decode(), int(match.group(2))))
            pending = pending[match.end() :]
        keep = len(self._token) + 16  # a marker may be split across reads: hold back its possible start
        cut = pending.rfind(b"\n", 0, max(0, len(pending) - keep))
        if cut >= 0:
            self.on_output(pending[: cut + 1])
            pending = pending[cut + 1 :]
        elif len(pending) > 65536:
            self.on_output(pending[:-keep])
            pending = pending[-keep:]
        return pending

    def _wait_status(self, timeout: float | None) -> _Status:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                self._kill_group()
                self._reap()
                raise CommandTimeout(f"the command did not finish within {timeout:g} s")
            try:
                return self._statuses.get(timeout=remaining)
            except queue.Empty:
                continue

    def _kill_group(self, every: bool = False) -> None:
        groups = self._groups if every else self._groups[-1:]
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)

    def _reap(self, join_reader: bool = False) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._kill_group()
            process.wait()
        if join_reader and self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdin is not None and not process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
        self._process = None
