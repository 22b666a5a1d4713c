"""A build runs in its build worker's own process (no work horse per build) and leaves nothing behind there: no
thread, file descriptor, child process, environment variable, working directory or umask outlives it, whether its
commands succeed, fail, `cd` and `export`, or start processes in the background and as daemons. With
`--fork-builds`, a forked work horse runs each build instead; with `--one-process`, one process runs every job."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from redis.client import PubSubWorkerThread
from rq import Queue, SimpleWorker

from conveyor.config import Settings
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from jobs.worker import _roles
from tests.support.gitrepo import GitRepo, make_repo
from tests.support.pipelines import as_yaml, build_action, pipeline
from tests.support.workers import ROOT, worker_environment

BUSY = """version: 0.2
env:
  variables:
    STAGE: busy
phases:
  build:
    commands:
      - cd /
      - export LEFT_BEHIND=1
      - umask 077
      - sleep 60 &
      - setsid sleep 60 &
      - echo built
"""
FAILING = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 60 &\n      - exit 3\n"


def _threads() -> list[threading.Thread]:
    """The process's threads but the command listeners of the test's in-process RQ workers: each worker subscribes
    to its command channel on a thread that it stops but does not wait for when its burst ends, and that thread can
    sit in a wait for up to a minute on a loaded machine. Conveyor's own code starts no such listener."""
    return [thread for thread in threading.enumerate() if not isinstance(thread, PubSubWorkerThread)]


def _process_state() -> dict[str, Any]:
    umask = os.umask(0o022)
    os.umask(umask)
    children = [pid for task in Path("/proc/self/task").iterdir() for pid in (task / "children").read_text().split()]
    return {
        "threads": sorted(thread.name for thread in _threads()),
        "descriptors": len(os.listdir("/proc/self/fd")),
        "children": children,
        "environment": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": umask,
    }


def _command_line(pid: str) -> str:
    """What a child process runs (for the message of a failed check), or why that cannot be read."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError as exc:
        return f"{pid}: {exc.strerror}"


def _settled_threads(before: set[int | None]) -> None:
    """Give threads that are ending a moment to end: GitPython's fetch watchdog is a `threading.Timer` that is
    cancelled when git returns but exits on its own schedule, so a loaded machine can see it alive just after. A
    thread that stays is still caught, because the comparison follows."""
    for thread in _threads():
        if thread.ident not in before:
            thread.join(timeout=10)


def _run(rt: Runtime, run_jobs: Any, name: str) -> str:
    execution_id = pipelines.start_pipeline(rt, name)
    run_jobs()
    return str(views.get_execution(rt, execution_id)["status"])


def test_builds_in_the_worker_process_leave_nothing_behind(
    rt: Runtime, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    other_repo = make_repo(tmp_path / "other")
    repo.commit({"buildspec.yml": BUSY})
    other_repo.commit({"buildspec.yml": FAILING})
    definitions.create_pipeline(rt, as_yaml(pipeline("busy", repo.url, build_actions=[build_action(outputs=())])))
    definitions.create_pipeline(
        rt, as_yaml(pipeline("failing", other_repo.url, build_actions=[build_action(outputs=())]))
    )
    assert _run(rt, run_jobs, "busy") == "Succeeded"  # pools and caches filled before the baseline is read
    assert _run(rt, run_jobs, "failing") == "Failed"
    before = _process_state()
    running = {thread.ident for thread in _threads()}

    outcomes = [_run(rt, run_jobs, name) for name in ("busy", "failing", "busy", "failing", "busy")]

    assert outcomes == ["Succeeded", "Failed", "Succeeded", "Failed", "Succeeded"]
    _settled_threads(running)
    after = _process_state()
    # no child outlives the builds; a child of the test process from before them (multiprocessing's resource
    # tracker, which an earlier test in the same process started and which lives as long as the process) may stay
    left = [pid for pid in after["children"] if pid not in before["children"]]
    assert left == [], [_command_line(pid) for pid in left]
    assert after == before


def test_build_workers_run_builds_without_forking_unless_asked(rt: Runtime) -> None:
    build_role = (True, ["build-small"])
    assert _roles(rt.settings, 2, None, fork_builds=False)[-2:] == [build_role, build_role]
    assert _roles(rt.settings, 1, None, fork_builds=True)[-1] == (False, ["build-small"])
    assert all(simple for simple, _ in _roles(rt.settings, 1, None, fork_builds=False)[:3])


def test_one_process_serves_every_queue_pipeline_first(rt: Runtime) -> None:
    assert _roles(rt.settings, 1, None, fork_builds=False, one_process=True) == [
        (True, ["pipeline", "default", "deploy", "build-small"])
    ]


def test_one_worker_process_runs_a_whole_pipeline_by_itself(
    rt: Runtime, settings: Settings, repo: GitRepo, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    repo.commit({"buildspec.yml": f"version: 0.2\nphases:\n  build:\n    commands:\n      - echo $PPID >> {pids}\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("alone", repo.url, build_actions=[build_action(outputs=())])))
    executions = [pipelines.start_pipeline(rt, "alone") for _ in range(2)]

    supervisor = subprocess.Popen(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "worker", "--one-process", "--burst"],
        cwd=ROOT,
        env=worker_environment(settings),
    )
    assert supervisor.wait(timeout=120) == 0

    # fetches, builds, the builds' ends and every advance ran, and nothing is left on any queue
    assert [views.get_execution(rt, e)["status"] for e in executions] == ["Succeeded", "Succeeded"]
    [(_, queues)] = _roles(settings, 1, None, fork_builds=False, one_process=True)
    assert [Queue(name, connection=rt.redis).count for name in queues] == [0] * len(queues)
    workers = {int(pid) for pid in pids.read_text().split()}
    assert len(workers) == 1  # both builds' shells were started by the same process
    assert supervisor.pid not in workers


@pytest.mark.parametrize(
    ("given", "named"),
    [
        (["--builders", "3"], "--builders"),
        (["--queues", "build-large"], "--queues"),
        (["--fork-builds"], "--fork-builds"),
    ],
)
def test_one_process_refuses_options_it_would_ignore(settings: Settings, given: list[str], named: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from conveyor.cli import main; main()", "worker", "--one-process", *given],
        check=False,
        cwd=ROOT,
        env=worker_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"--one-process runs every queue in one process; it cannot take {named}" in result.stderr


def test_a_forking_build_worker_runs_each_build_in_a_work_horse(
    rt: Runtime, settings: Settings, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    repo.commit({"buildspec.yml": f"version: 0.2\nphases:\n  build:\n    commands:\n      - echo $PPID >> {pids}\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("forked", repo.url, build_actions=[build_action(outputs=())])))
    first, second = (pipelines.start_pipeline(rt, "forked") for _ in range(2))
    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    [(simple, queues)] = _roles(settings, 1, None, fork_builds=True)[-1:]
    assert not simple

    worker = subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "--queues", ",".join(queues), "--burst"],
        cwd=ROOT,
        env=worker_environment(settings),
    )
    assert worker.wait(timeout=120) == 0
    run_jobs()  # the builds' ends reported on the pipeline queue

    assert [views.get_execution(rt, e)["status"] for e in (first, second)] == ["Succeeded", "Succeeded"]
    horses = {int(pid) for pid in pids.read_text().split()}
    assert len(horses) == 2  # each build's shell was started by a work horse of its own
    assert worker.pid not in horses
