"""Running the Procfile's processes on one machine: for `conveyor up`, the end-to-end tests and the benchmarks.

Each entry runs as `/bin/sh -c <command>` in its own process group (so stopping it stops what it started), with
its output either in `<log dir>/<name>.log` or passed through with a `name |` prefix. When the settings name the
embedded Redis (no `CONVEYOR_REDIS_URL`), a `redis-server` on a unix socket in the data directory joins the stack.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from conveyor.config import Settings, make_folder
from conveyor.errors import ConfigurationError, ServiceUnavailable


@dataclass(frozen=True)
class ProcessEntry:
    name: str
    command: str


def free_port() -> int:
    """A TCP port on the loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_procfile(path: Path) -> list[ProcessEntry]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip():
            raise ConfigurationError(f"{path}:{number}: expected 'name: command'")
        entries.append(ProcessEntry(name.strip(), command.strip()))
    return entries


def stack_environment(settings: Settings, port: int, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the stack's processes: this one's, the data directory, the port, and this installation's
    scripts first on PATH so the Procfile's `conveyor` and `gunicorn` are the ones running now."""
    env = dict(os.environ if base is None else base)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "/usr/bin:/bin")])
    env["CONVEYOR_DATA_DIR"] = str(settings.data_dir)
    env["PORT"] = str(port)
    return env


def embedded_redis(settings: Settings) -> ProcessEntry:
    """A redis-server for the embedded default: a unix socket in the data directory, nothing kept on disk."""
    if shutil.which("redis-server") is None:
        raise ConfigurationError(
            "redis-server is not installed: install it (Debian/Ubuntu: apt-get install redis-server) "
            "or point CONVEYOR_REDIS_URL at a Redis server"
        )
    make_folder(settings.data_dir, "data directory")
    socket = settings.embedded_redis_socket
    command = (
        f"exec redis-server --port 0 --unixsocket {socket} --unixsocketperm 700 --save '' "
        f"--appendonly no --dir {settings.data_dir}"
    )
    return ProcessEntry("redis", command)


class Stack:
    def __init__(self, entries: list[ProcessEntry], env: Mapping[str, str], log_dir: Path | None = None) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self.env = dict(env)
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._log_starts: dict[str, int] = {}  # where each entry's log stood when it was started

    def start(self, names: list[str] | None = None) -> None:
        for name in names or list(self.entries):
            self.start_one(name)

    def start_one(self, name: str) -> subprocess.Popen[bytes]:
        entry = self.entries[name]
        output: IO[bytes] | int
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = (self.log_dir / f"{name}.log").open("ab")
            self._log_starts[name] = output.tell()
        else:
            output = subprocess.PIPE
        try:
            process = subprocess.Popen(
                ["/bin/sh", "-c", entry.command],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            if not isinstance(output, int):
                output.close()  # the child holds its own descriptor
        if process.stdout is not None:
            threading.Thread(target=_prefix, args=(name, process.stdout), daemon=True).start()
        self.processes[name] = process
        return process

    def signal(self, name: str, signum: int) -> None:
        """Send a signal to an entry's whole process group."""
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def stop(self, timeout: float = 15.0) -> None:
        for name in reversed(list(self.processes)):
            if self.processes[name].poll() is None:
                self.signal(name, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                process.wait()
            self.signal(name, signal.SIGKILL)  # whatever the entry left behind in its group

    def last_words(self, name: str, lines: int = 5) -> str:
        """The last lines an entry wrote to its log since it was started (none without a log directory), to say
        why it exited."""
        if self.log_dir is None:
            return ""
        path = self.log_dir / f"{name}.log"
        try:
            with path.open("rb") as log:
                log.seek(self._log_starts.get(name, 0))
                tail = log.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        if not tail:
            return ""
        return f"; the end of {path}:\n" + "".join(f"  {line}\n" for line in tail).rstrip("\n")

    def group_ids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}


def wait_healthy(url: str, timeout: float = 60.0, stack: Stack | None = None) -> None:
    """Wait until `GET <url>/healthz` answers 200; fail early if a stack process exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if stack is not None:
            dead = [name for name, p in stack.processes.items() if p.poll() is not None]
            if dead:
                said = "".join(stack.last_words(name) for name in dead)
                raise ServiceUnavailable(f"{', '.join(dead)} exited during start-up{said}")
        try:
            response = requests.get(f"{url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except requests.RequestException as exc:
            last = str(exc)
        time.sleep(0.2)
    raise ServiceUnavailable(f"Conveyor at {url} did not become healthy within {timeout:g} s: {last}")


def wait_for_socket(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise ServiceUnavailable(f"redis-server did not create {path} within {timeout:g} s")
        time.sleep(0.05)


def _prefix(name: str, stream: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>9} | {line.decode(errors='replace')}")
        sys.stdout.flush()
