"""Sets of identical worker processes for the benchmarks, and the plain-RQ baseline measured beside them.

A set starts N copies of one command, each in its own session with its output in a log file, and is ready once RQ
lists every worker the copies register; leaving the set stops them (RQ's warm shutdown). `cpu_seconds` is the CPU
time the set's processes (and the children they have reaped: git, bash, RQ work horses) have used so far. The
baseline is plain RQ: workers that run each job in their own process (`rq worker --worker-class rq.SimpleWorker`,
the class Conveyor's pipeline and build workers use) running `bench.noop_job.started_at`, a job that returns the
moment it began.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import redis
from rq import Queue, Worker
from rq.job import Job
from rq.results import Result

from bench.harness import ROOT, session_cpu_seconds
from conveyor.devstack import ProcessEntry, Stack

NOOP_QUEUE = "bench-noop"
NOOP_JOB = "bench.noop_job.started_at"
RESULT_TIMEOUT = 60  # seconds a job may take before the benchmark gives up on it


@contextmanager
def worker_set(
    label: str, command: str, count: int, env: Mapping[str, str], log_dir: Path, connection: redis.Redis, each: int
) -> Iterator[Stack]:
    """Run `count` copies of `command`, each registering `each` RQ workers; yields them once all are registered."""
    before = Worker.count(connection=connection)
    stack = Stack([ProcessEntry(f"{label}-{n}", command) for n in range(1, count + 1)], env, log_dir)
    stack.start()
    try:
        _wait_registered(stack, connection, before + count * each, log_dir)
        yield stack
    finally:
        stack.stop(timeout=30)


def _wait_registered(stack: Stack, connection: redis.Redis, expected: int, log_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while Worker.count(connection=connection) < expected:
        dead = [name for name, process in stack.processes.items() if process.poll() is not None]
        if dead:
            raise RuntimeError(f"worker process {dead[0]} exited during start-up; see {log_dir / dead[0]}.log")
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{expected} RQ workers did not register within {timeout:g} s; see the logs in {log_dir}"
            )
        time.sleep(0.05)


def cpu_seconds(stack: Stack) -> float | None:
    """User and system CPU time of every process in the sessions of the stack's entries, with what they reaped;
    None where there is no /proc to read it from."""
    return session_cpu_seconds({process.pid for process in stack.processes.values()})


def noop_worker_command() -> str:
    """A plain RQ SimpleWorker on the no-op queue (Redis from RQ_REDIS_URL, so no URL shows in `ps`)."""
    return f"exec rq worker --worker-class rq.SimpleWorker --path {ROOT} --logging_level INFO {NOOP_QUEUE}"


def job_start_latency_ms(connection: redis.Redis, samples: int, warm: int = 3) -> list[float]:
    """Enqueue → running of a no-op job, one job at a time on an idle worker (the first `warm` left out)."""
    queue = Queue(NOOP_QUEUE, connection=connection)
    latencies = []
    for _ in range(warm + samples):
        sent = time.time()
        began = _result(queue.enqueue_call(NOOP_JOB)).return_value
        if not isinstance(began, float):
            raise RuntimeError(f"the no-op job returned {began!r}, not the time it began")
        latencies.append((began - sent) * 1000)
    return latencies[warm:]


def jobs_per_second(connection: redis.Redis, jobs: int) -> float:
    """The rate of a burst of no-op jobs enqueued at once: jobs / (enqueue → the last one finished)."""
    queue = Queue(NOOP_QUEUE, connection=connection)
    started = time.time()
    with connection.pipeline() as pipe:
        enqueued = [queue.enqueue_call(NOOP_JOB, pipeline=pipe) for _ in range(jobs)]
        pipe.execute()
    finished = max(_as_utc(_result(job).created_at).timestamp() for job in enqueued)
    return jobs / (finished - started)


def _result(job: Job) -> Result:
    result = job.latest_result(timeout=RESULT_TIMEOUT)
    if result is None:
        raise RuntimeError(f"no-op job {job.id} did not finish within {RESULT_TIMEOUT} s")
    if result.type != Result.Type.SUCCESSFUL:
        raise RuntimeError(f"no-op job {job.id} failed: {result.exc_string}")
    return result


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
