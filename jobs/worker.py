"""The worker process: RQ workers supervised as one unit.

By default one `conveyor worker` runs

* a control worker (RQ `SimpleWorker`, no fork per job) on the `pipeline` queue, so pipeline advances never wait
  behind a build and cost a few milliseconds each;
* a fetch worker (also no fork) on `default`: source fetches and other short jobs, whose heavy lifting happens in
  git processes anyway;
* a deploy worker (no fork) on `deploy`: Lambda and ECS deployments, each job waiting through its hook functions and
  traffic shifts (one deployment at a time per worker process: run more workers for more at once);
* N build workers on the `build-<compute type>` queues, each running one build at a time in its own process. A
  build's commands run in a shell of their own anyway, in a process group the build kills when it stops, times out
  or ends; what runs in the worker is Conveyor's code around them, which leaves nothing behind (no thread, file
  descriptor, child process or environment change outlives a build: tested). So a build worker does not fork a
  work horse per build, which cost about 24 ms of CPU a build, mostly in copied pages and their teardown; with
  `--fork-builds` it does (RQ's forking `Worker`), for a worker that wants each build's Python side in a process
  that ends with it.

Every worker imports the job modules and builds its runtime before its first job, so a forked work horse starts
warm instead of paying a second of imports and a new database engine per build; every worker then freezes what it
made (`conveyor.heap`), so no full garbage collection walks it again: in the worker, a pause of ~100 ms; in a
horse, the whole inherited heap copied.

With `--one-process` it runs a single no-fork worker on all of those queues instead, taking a job from the first
of them that has one — `pipeline`, then `default`, then `deploy`, then the build queues — so pipeline advances still
go first, and everything else waits its turn behind whatever the process is running. That is the shape for a small
machine (one Python process instead of four or more) and for scaling out one process per core: each such worker
is a single chain of work, so a second one adds a second chain rather than more processes contending for the same
cores. Given explicit `--queues`, it runs a single forking worker on those. A child that dies is started again; SIGTERM
and SIGINT are passed to every child (RQ finishes the current job on the first, stops at once on the second).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from sqlalchemy.orm import configure_mappers

from conveyor.build import progress
from conveyor.config import Settings, load_settings
from conveyor.db.models import ActionExecution
from conveyor.dispatch import claim, finish, take
from conveyor.heap import freeze_startup_heap
from conveyor.queues import DEFAULT_QUEUE, DEPLOY_QUEUE, PIPELINE_QUEUE, build_queue, connect
from conveyor.runtime import Runtime
from jobs.dispatch import JOB_FUNCTIONS
from jobs.rq_classes import ForkingWorker, InProcessWorker
from jobs.runtime import make_runtime, prepare, use_runtime

log = logging.getLogger("conveyor.worker")
WARM_UP_ID = "00000000-0000-0000-0000-000000000000"


def run_worker(queue_names: list[str], *, simple: bool, burst: bool = False, settings: Settings | None = None) -> None:
    """Run one RQ worker in this process until it is told to stop (or, with `burst`, until the queues are empty)."""
    settings = settings or load_settings()
    for function in JOB_FUNCTIONS.values():
        importlib.import_module(function.rpartition(".")[0])
    rt = make_runtime(settings)
    use_runtime(rt)
    rt.db.checkpoint_in_background()
    _warm(rt, forks=not simple)
    os.register_at_fork(after_in_child=lambda: _horse_connects(rt))
    worker_class = InProcessWorker if simple else ForkingWorker
    worker = worker_class(queue_names, connection=connect(settings))
    # Before the first job (`conveyor.heap`). A forking worker's horse gains twice: it inherits the heap copy-on-write,
    # and a full collection in it would write to every page of it. Measured, one such collection made beginning a
    # build cost about 170 ms of CPU and 11,800 page copies instead of about 12 ms and 1,100.
    freeze_startup_heap()
    worker.work(burst=burst, logging_level="INFO")


def _horse_connects(rt: Runtime) -> None:
    """A work horse opens connections of its own (the parent's stay the parent's), the first one at once."""
    rt.db.dispose(close=False)
    rt.db.connect_ahead()


def _warm(rt: Runtime, forks: bool) -> None:
    """Pay once, in the parent, what every forked work horse would otherwise pay on its first job: the mappers'
    configuration, the database dialect's first-connect queries (the horse keeps the engine, not its sockets) and
    the compilation of the statements every job starts and ends with (claiming its dispatch, loading its action,
    marking the dispatch done, or taking it in one transaction) — on a dispatch that does not exist, which finds
    nothing and changes nothing — and, in a worker that forks horses for builds, of what a build's horse writes (a
    rehearsal, rolled back)."""
    configure_mappers()
    try:
        rt.db.ping()
        claim(rt.db, WARM_UP_ID, 0)
        finish(rt.db, WARM_UP_ID, 0)
        with rt.db.session() as session:
            take(session, WARM_UP_ID, 0)
        with rt.db.reader() as session:
            session.get(ActionExecution, WARM_UP_ID)
        if forks:
            progress.rehearse(rt.db)
    except Exception:  # the database is away for now: the horses connect when it is back
        log.warning("could not reach the database while starting the worker", exc_info=True)


def supervise(
    settings: Settings,
    builders: int,
    queue_names: list[str] | None = None,
    burst: bool = False,
    *,
    fork_builds: bool = False,
    one_process: bool = False,
) -> int:
    """Start the children, restart those that die, and pass stop signals on; returns when all have stopped."""
    prepare(settings)
    roles = _roles(settings, builders, queue_names, fork_builds, one_process)
    children = {index: _spawn(role, burst) for index, role in enumerate(roles)}
    stopping = False

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while children:
        time.sleep(0.2)
        for index, child in list(children.items()):
            code = child.poll()
            if code is None:
                continue
            if stopping or burst:
                del children[index]
            else:
                log.warning("worker %s exited with %s; starting it again", roles[index], code)
                time.sleep(1)
                children[index] = _spawn(roles[index], burst)
    return 0


def _roles(
    settings: Settings, builders: int, queue_names: list[str] | None, fork_builds: bool, one_process: bool = False
) -> list[tuple[bool, list[str]]]:
    """Each child as (runs its jobs without forking, its queues)."""
    if queue_names:
        return [(False, queue_names)]
    build_queues = [build_queue(c) for c in settings.compute_types]
    if one_process:
        return [(True, [PIPELINE_QUEUE, DEFAULT_QUEUE, DEPLOY_QUEUE, *build_queues])]
    return [(True, [PIPELINE_QUEUE]), (True, [DEFAULT_QUEUE]), (True, [DEPLOY_QUEUE])] + [
        (not fork_builds, build_queues)
    ] * builders


def _spawn(role: tuple[bool, list[str]], burst: bool) -> subprocess.Popen[bytes]:
    simple, queue_names = role
    command = [sys.executable, "-m", "jobs.worker", "--queues", ",".join(queue_names)]
    command += ["--simple"] if simple else []
    command += ["--burst"] if burst else []
    return subprocess.Popen(command)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one RQ worker (started by `conveyor worker`)")
    parser.add_argument("--queues", required=True)
    parser.add_argument("--simple", action="store_true")
    parser.add_argument("--burst", action="store_true")
    args = parser.parse_args(argv)
    run_worker(args.queues.split(","), simple=args.simple, burst=args.burst)


if __name__ == "__main__":
    main()
