"""What the benchmarks share: a Conveyor stack on its embedded defaults in a temporary directory, percentiles,
and the one JSON line each benchmark ends with."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conveyor.config import Settings, load_settings  # noqa: E402
from conveyor.devstack import (  # noqa: E402
    Stack,
    embedded_redis,
    free_port,
    read_procfile,
    stack_environment,
    wait_for_socket,
    wait_healthy,
)

__all__ = ["free_port"]

SECRET = "bench-secret"
R = TypeVar("R")


def pipeline_document(name: str, repository_id: str, url: str = "") -> dict[str, Any]:
    """A two-stage pipeline: a git source of `repository_id` (cloned from `url` if given) and a CodeBuild build."""
    configuration = {"FullRepositoryId": repository_id, "BranchName": "main", **({"RepositoryUrl": url} if url else {})}
    source_type = {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"}
    build_type = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
    return {
        "pipeline": {
            "name": name,
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {
                            "name": "Source",
                            "actionTypeId": source_type,
                            "configuration": configuration,
                            "outputArtifacts": [{"name": "Src"}],
                        }
                    ],
                },
                {
                    "name": "Build",
                    "actions": [
                        {
                            "name": "Build",
                            "actionTypeId": build_type,
                            "configuration": {"ProjectName": name},
                            "inputArtifacts": [{"name": "Src"}],
                            "outputArtifacts": [{"name": "Out"}],
                        }
                    ],
                },
            ],
        }
    }


@dataclass
class BenchStack:
    url: str
    settings: Settings
    stack: Stack
    root: Path


@contextmanager
def conveyor_stack(names: tuple[str, ...] = ("web", "worker", "scheduler"), **env: str) -> Iterator[BenchStack]:
    """Conveyor from the Procfile on SQLite, a local blob directory and its own redis-server on a unix socket."""
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings(environ={}, overrides={"data_dir": root / "data"})
        port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        environment = stack_environment(settings, port, base)
        environment.update({"CONVEYOR_GITHUB_WEBHOOK_SECRET": SECRET, **env})
        entries = [embedded_redis(settings), *read_procfile(ROOT / "Procfile")]
        stack = Stack(entries, environment, root / "logs")
        stack.start(["redis"])
        wait_for_socket(settings.embedded_redis_socket)
        stack.start(list(names))
        try:
            wait_healthy(f"http://127.0.0.1:{port}", timeout=60, stack=stack)
            yield BenchStack(f"http://127.0.0.1:{port}", settings, stack, root)
        finally:
            stack.stop(timeout=10)


def web_command() -> str:
    """The Procfile's `web` command (gunicorn and its settings)."""
    return next(entry.command for entry in read_procfile(ROOT / "Procfile") if entry.name == "web")


@dataclass(frozen=True)
class BareServer:
    url: str
    session: int  # the id of the session its processes run in (see `session_cpu_seconds`)


@contextmanager
def bare_flask(app: str = "bench.bare_app:app", **env: str) -> Iterator[BareServer]:
    """A baseline app (`bench.bare_app` unless told) under the Procfile's gunicorn command, with its settings;
    `env` adds to its environment."""
    port = free_port()
    command = web_command().replace('"handlers.app:create_app()"', app)
    environment = {
        **os.environ,
        "PORT": str(port),
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        **env,
    }
    with Path(os.devnull).open("wb") as sink:
        process = subprocess.Popen(
            ["/bin/sh", "-c", command], env=environment, stdout=sink, stderr=sink, start_new_session=True
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_healthy_post(url)
            yield BareServer(url, process.pid)
        finally:
            os.killpg(process.pid, 15)
            process.wait()


def wait_healthy_post(url: str, path: str = "/webhooks/github") -> None:
    for _ in range(300):
        try:
            requests.post(f"{url}{path}", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


def interleaved(rounds: int, first: Callable[[], R], second: Callable[[], R]) -> tuple[list[R], list[R]]:
    """Measure two things `rounds` times each in ABBA order (A B, B A, A B, …), so that a machine whose speed drifts
    during the run (a shared one) weighs on both alike; returns the results of each, round by round."""
    a: list[R] = []
    b: list[R] = []
    for index in range(rounds):
        if index % 2 == 0:
            a.append(first())
            b.append(second())
        else:
            b.append(second())
            a.append(first())
    return a, b


def session_cpu_seconds(sessions: set[int]) -> float | None:
    """User and system CPU time of every process in these sessions (a process started with `start_new_session`
    leads one whose id is its pid), with what they have reaped; None where there is no /proc to read it from."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    stats = list(Path("/proc").glob("[0-9]*/stat"))
    for stat in stats:
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile; its time is in its parent's reaped children
        if int(fields[3]) in sessions:  # fields[0] is the state: the session id is field 6 of proc(5)
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks if stats else None


def machine_busy_seconds() -> float | None:
    """CPU time every core of the machine has spent on anything but idling and waiting for I/O so far (from
    /proc/stat, summed over cores); None where there is no /proc to read it from."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    jiffies = [int(value) for value in fields[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def report(name: str, metrics: dict[str, Any], **context: Any) -> None:
    """Print the benchmark's one JSON object, as the last line of standard output."""
    sys.stderr.flush()
    print(json.dumps({"bench": name, "metrics": metrics, "context": context}), flush=True)
