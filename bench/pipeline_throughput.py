"""Executions per minute of a three-stage no-op pipeline on 1 and 2 worker processes, and what one stage transition
costs (previous action finished → next action running).

The pipeline (V2, `executionMode: PARALLEL`, so executions neither wait for nor supersede one another) is
Source → Build → Test: a git source of a one-commit repository the bench makes, then two CodeBuild actions over it
whose buildspec runs `true`. Conveyor has no no-op provider, so these are the cheapest real actions: a fetch from a
warm mirror, and builds of one command that still take a workspace, bash and a log upload.
`context.timeline_p50_ms` splits an execution into consecutive segments (its start, the fetch, the builds, the
transitions, its end), so the output shows whether builds or transitions bound the rate.

Workers, against the same Redis, database and blob directory (no web server or scheduler runs), in two shapes:
  one process (`conveyor worker --one-process`: one RQ worker taking every job, pipeline advances first) — the
    shape the metrics `per_min_1w`, `per_min_2w` and `scaling` are measured on. A worker of this shape is one chain
    of work (the process, or the git or bash it waits for) using at most about one core, so on this two-core machine
    two of them have the cores to scale, and what keeps them from it is what they hold each other up on: the
    database's locks (SQLite lets one writer at a time), Redis, the queues;
  the Procfile's `worker` entry (`conveyor worker --builders 1`: a pipeline worker, a fetch worker, a deploy worker
    and one build worker, each a process of its own) — in `context.procfile_worker`. One of these already spreads
    an execution's work over four processes and keeps 1.3 to 1.4 of the two cores busy, so a second on the same
    machine cannot add much: that shape scales across machines, which one machine cannot show.
Executions start through the pipeline service in the bench's own process (as the CLI does without a server), at the
repository's commit as a push names it. A rate is a burst of N executions started at once: N / (first start → last
execution ended). Rounds alternate the order (1 then 2 workers, then 2 then 1) and the medians are reported.
`context.bursts` adds, per burst, the CPU time the worker processes spent per execution and the cores they kept
busy, and the cores the whole machine kept busy (the bench's own process, Redis and PostgreSQL included; read from
/proc): a machine short of 2 with two workers on two cores means they were waiting — for a lock, or for each
other.

Transition overhead is read from the database, on executions run one at a time on 1 worker process, so that no
transition waits behind another execution's work:
  previous action finished = the first record that its work is over: a build's `end_time` (its result saved, its
    log uploaded), or a source action's `ended_at` (written as its fetch job reports);
  next action running = the next build's `start_time` (a worker claimed its job and began the build).
It is split into `report` (until the next action's dispatch row is written, in the transaction that records the
previous result), `handoff` (until a worker claims that dispatch: commit, enqueue, RQ dequeue, claim) and `begin`
(until the build's attempt has begun).

Baseline, in the same run and on the same Redis: plain RQ workers (`rq worker --worker-class rq.SimpleWorker`, the
class the build workers use) running a job that only returns when it began. Its enqueue → running time is the one
queue hop a transition contains; its burst rate on 1 and 2 worker processes says how far this machine lets two
processes scale.

Run: .venv/bin/python bench/pipeline_throughput.py [--executions 30] [--postgresql URL] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import ROOT, machine_busy_seconds, report
from bench.harness import pipeline_document as two_stage_document
from bench.pipeline_timings import execution_timeline, summarise, transitions
from bench.push_to_build import git
from bench.rq_workers import cpu_seconds, job_start_latency_ms, jobs_per_second, noop_worker_command, worker_set
from conveyor.config import Settings, load_settings
from conveyor.db.models import PipelineExecution
from conveyor.db.scratch import scratch_postgres
from conveyor.devstack import Stack, embedded_redis, read_procfile, stack_environment, wait_for_socket
from conveyor.pipeline import definitions
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.status import ExecutionStatus
from conveyor.queues import connect
from conveyor.runtime import Runtime
from jobs.runtime import make_runtime, prepare

PIPELINE = "throughput"
BUILDSPEC = 'version: 0.2\nphases:\n  build:\n    commands:\n      - "true"\n'
POLL_SECONDS = 0.05
EXECUTION_TIMEOUT = 600.0


def pipeline_document(name: str, url: str) -> dict[str, Any]:
    """Source → Build → Test: the git source of `url`, then two CodeBuild actions over it (no artifacts)."""
    document = two_stage_document(name, "bench/noop", url)
    pipeline = document["pipeline"]
    build = pipeline["stages"][1]["actions"][0]
    del build["outputArtifacts"]  # the buildspec makes none
    test = {**build, "name": "Test", "actionTypeId": {**build["actionTypeId"], "category": "Test"}}
    pipeline["stages"].append({"name": "Test", "actions": [test]})
    pipeline.update(pipelineType="V2", executionMode="PARALLEL")
    return document


@dataclass
class Bench:
    rt: Runtime
    connection: redis.Redis
    env: dict[str, str]  # the worker processes' environment
    logs: Path
    revision: str  # the commit every execution builds
    builders: int  # build workers per worker process


@contextmanager
def bench_setup(args: argparse.Namespace) -> Iterator[Bench]:
    """A data directory, database, Redis, repository and registered pipeline, all gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        overrides: dict[str, Any] = {"data_dir": root / "data"}
        if args.postgresql:
            overrides["database_url"] = stack.enter_context(scratch_postgres(args.postgresql, "conveyor_bench"))
        if args.redis_url:
            overrides["redis_url"] = args.redis_url
        settings = load_settings(environ={}, overrides=overrides)
        env = worker_environment(settings, args.builders)
        if not args.redis_url:
            stack.enter_context(embedded_redis_server(settings, env, root / "logs"))
        connection = stack.enter_context(redis_database(settings, flush=bool(args.redis_url)))
        prepare(settings)
        rt = make_runtime(settings)
        stack.callback(rt.db.dispose)
        revision = make_repository(root / "app")
        definitions.create_pipeline(rt, json.dumps(pipeline_document(PIPELINE, (root / "app").as_uri())))
        yield Bench(rt, connection, env, root / "logs", revision, args.builders)


def worker_environment(settings: Settings, builders: int) -> dict[str, str]:
    """This checkout's code, the bench's data directory, database and Redis, and `builders` build workers."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env = stack_environment(settings, 0, base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    env["CONVEYOR_DATABASE_URL"] = settings.database_url
    env["CONVEYOR_REDIS_URL"] = env["RQ_REDIS_URL"] = settings.redis_url
    env["CONVEYOR_BUILDERS"] = str(builders)
    return env


@contextmanager
def embedded_redis_server(settings: Settings, env: dict[str, str], logs: Path) -> Iterator[None]:
    stack = Stack([embedded_redis(settings)], env, logs)
    stack.start()
    try:
        wait_for_socket(settings.embedded_redis_socket)
        yield
    finally:
        stack.stop()


@contextmanager
def redis_database(settings: Settings, flush: bool) -> Iterator[redis.Redis]:
    """A client of the bench's Redis; a database given on the command line is emptied before and after."""
    connection = connect(settings)
    if flush:
        connection.flushdb()
    try:
        yield connection
    finally:
        if flush:
            connection.flushdb()
        connection.close()


def make_repository(repo: Path) -> str:
    """A repository with one commit holding the no-op buildspec; returns the commit."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "buildspec.yml").write_text(BUILDSPEC)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "no-op")
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Shape:
    """How one worker is run: its command, and how many RQ workers each of its processes registers."""

    name: str
    command: str
    registers: int
    description: str


ONE_PROCESS = Shape(
    "one-process",
    "exec conveyor worker --one-process",
    1,
    "`conveyor worker --one-process`, 1 and 2 of them: one RQ worker process each, taking every job",
)


def procfile_worker(builders: int) -> Shape:
    """The Procfile's worker entry: pipeline, fetch and deploy workers, and `builders` build workers."""
    command = next(entry.command for entry in read_procfile(ROOT / "Procfile") if entry.name == "worker")
    registers = 3 + builders
    description = (
        f"the Procfile's worker entry with CONVEYOR_BUILDERS={builders}, 1 and 2 of them: {registers} RQ worker "
        "processes each"
    )
    return Shape("procfile", command, registers, description)


def conveyor_workers(bench: Bench, count: int, shape: Shape | None = None) -> AbstractContextManager[Stack]:
    """`count` workers of this shape (by default the Procfile's entry)."""
    shape = shape or procfile_worker(bench.builders)
    return worker_set(shape.name, shape.command, count, bench.env, bench.logs, bench.connection, each=shape.registers)


def start_executions(bench: Bench, count: int) -> list[str]:
    return [
        pipelines.start_pipeline(bench.rt, PIPELINE, revision=bench.revision, requested_by="bench")
        for _ in range(count)
    ]


def wait_succeeded(rt: Runtime, ids: list[str]) -> list[PipelineExecution]:
    """Wait until the executions have ended and return them; any that did not succeed stops the benchmark."""
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while True:
        with rt.db.reader() as session:
            rows = list(session.scalars(select(PipelineExecution).where(PipelineExecution.id.in_(ids))))
        if all(ExecutionStatus(row.status).final for row in rows):
            break
        if time.monotonic() > deadline:
            open_count = sum(not ExecutionStatus(row.status).final for row in rows)
            raise TimeoutError(f"{open_count} execution(s) still running after {EXECUTION_TIMEOUT:g} s")
        time.sleep(POLL_SECONDS)
    for row in rows:
        if row.status != ExecutionStatus.SUCCEEDED.value:
            raise RuntimeError(f"execution {row.id} ended {row.status}: {row.status_summary}")
    return rows


@dataclass(frozen=True)
class Burst:
    per_min: float  # executions per minute
    cpu_ms: float | None  # CPU time the worker processes spent per execution
    cores_busy: float | None  # that CPU time over the burst's wall time
    machine_cores_busy: float | None  # the whole machine's busy CPU time over the burst's wall time


def burst(bench: Bench, workers: Stack, count: int) -> Burst:
    """Start `count` executions at once; the rate is count / (first start → last end)."""
    cpu_before, machine_before = cpu_seconds(workers), machine_busy_seconds()
    started = time.time()
    rows = wait_succeeded(bench.rt, start_executions(bench, count))
    cpu_after, machine_after = cpu_seconds(workers), machine_busy_seconds()
    wall = time.time() - started
    elapsed = max(row.ended_at.timestamp() for row in rows if row.ended_at is not None) - started
    machine = None if machine_before is None or machine_after is None else (machine_after - machine_before) / wall
    if cpu_before is None or cpu_after is None:
        return Burst(count * 60 / elapsed, None, None, machine)
    cpu = cpu_after - cpu_before
    return Burst(count * 60 / elapsed, cpu * 1000 / count, cpu / wall, machine)


def one_at_a_time(bench: Bench, count: int) -> list[str]:
    """Run executions one after the other, each on idle workers; returns their ids."""
    ids: list[str] = []
    for _ in range(count):
        ids += start_executions(bench, 1)
        wait_succeeded(bench.rt, ids[-1:])
    return ids


def warm(bench: Bench, processes: int) -> None:
    """Run a few executions first: mirrors, connections and imports are ready when measuring starts."""
    wait_succeeded(bench.rt, start_executions(bench, 2 * processes))


def measure_transitions(bench: Bench, executions: int) -> tuple[dict[str, Any], dict[str, float]]:
    with conveyor_workers(bench, 1):
        warm(bench, 1)
        ids = one_at_a_time(bench, executions)
    found = transitions(bench.rt, ids)
    return summarise(found), execution_timeline(bench.rt, ids)


Bursts = dict[int, list[Burst]]  # by the number of workers


def measure_rates(bench: Bench, executions: int, rounds: int, shapes: list[Shape]) -> dict[str, Bursts]:
    """Bursts on 1 and on 2 workers of each shape, the shapes in turn within a round; odd rounds run 2 first (ABBA)."""
    bursts: dict[str, Bursts] = {shape.name: {1: [], 2: []} for shape in shapes}
    for index in range(rounds):
        for shape in shapes:
            for count in (1, 2) if index % 2 == 0 else (2, 1):
                with conveyor_workers(bench, count, shape) as workers:
                    warm(bench, count)
                    bursts[shape.name][count].append(burst(bench, workers, executions))
    return bursts


def measure_baseline(bench: Bench, samples: int, jobs: int) -> dict[str, float]:
    """Plain RQ on the same Redis: a no-op job's enqueue → running, and burst rates on 1 and 2 workers."""
    command = noop_worker_command()
    with worker_set("rq", command, 1, bench.env, bench.logs, bench.connection, each=1):
        latencies = job_start_latency_ms(bench.connection, samples)
        one = jobs_per_second(bench.connection, jobs)
    with worker_set("rq", command, 2, bench.env, bench.logs, bench.connection, each=1):
        jobs_per_second(bench.connection, 20)  # both workers have run a job before measuring
        two = jobs_per_second(bench.connection, jobs)
    return {
        "job_start_p50_ms": statistics.median(latencies),
        "jobs_per_s_1w": one,
        "jobs_per_s_2w": two,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--executions", type=int, default=60, help="executions per burst, and run one at a time")
    parser.add_argument("--rounds", type=int, default=2, help="bursts on 1 and on 2 worker processes, ABBA order")
    parser.add_argument("--builders", type=int, default=1, help="build workers in each worker process")
    parser.add_argument("--baseline-samples", type=int, default=50, help="no-op jobs run one at a time")
    parser.add_argument("--baseline-jobs", type=int, default=300, help="no-op jobs per baseline burst")
    parser.add_argument("--postgresql", metavar="URL", help="run on a new database on this PostgreSQL server")
    parser.add_argument("--redis-url", help="a Redis database the bench may empty (default: its own redis-server)")
    args = parser.parse_args()
    with bench_setup(args) as bench:
        baseline = measure_baseline(bench, args.baseline_samples, args.baseline_jobs)
        transition, timeline = measure_transitions(bench, args.executions)
        bursts = measure_rates(bench, args.executions, args.rounds, [ONE_PROCESS, procfile_worker(args.builders)])
    publish(args, baseline, transition, timeline, bursts)


def publish(
    args: argparse.Namespace,
    baseline: dict[str, float],
    transition: dict[str, Any],
    timeline: dict[str, float],
    bursts: dict[str, Bursts],
) -> None:
    one, two = _rates(bursts[ONE_PROCESS.name])
    machine_scaling = baseline["jobs_per_s_2w"] / baseline["jobs_per_s_1w"]
    report(
        "pipeline_throughput",
        {
            "transition_p50_ms": round(transition["p50_ms"], 1),
            "transition_p95_ms": round(transition["p95_ms"], 1),
            "per_min_1w": round(one, 1),
            "per_min_2w": round(two, 1),
            "scaling": round(two / one, 2),
            "baseline_job_start_p50_ms": round(baseline["job_start_p50_ms"], 1),
            "ratio_transition_to_job_start": round(transition["p50_ms"] / baseline["job_start_p50_ms"], 2),
            "baseline_scaling": round(machine_scaling, 2),
            "ratio_scaling_to_baseline": round(two / one / machine_scaling, 2),
        },
        target_transition_p50_ms=50,
        target_scaling=1.6,
        database="postgresql" if args.postgresql else "sqlite",
        pipeline="Source (git, local repository) → Build (CodeBuild) → Test (CodeBuild), buildspec `true`; "
        "pipelineType V2, executionMode PARALLEL",
        workers=ONE_PROCESS.description,
        executions=args.executions,
        bursts={f"{n}w": [_describe(b) for b in bursts[ONE_PROCESS.name][n]] for n in (1, 2)},
        procfile_worker=_procfile_rates(bursts, procfile_worker(args.builders)),
        transitions=transition,
        timeline_p50_ms=timeline,
        transitions_measured="apart from the rates: one execution at a time on 1 worker process, from database "
        "timestamps (previous action's work recorded as over → next build's attempt begun)",
        baseline="plain RQ SimpleWorkers running a job that returns at once: enqueue → running p50, and the "
        "burst rate with 2 worker processes over 1",
        baseline_jobs_per_s={"1w": round(baseline["jobs_per_s_1w"], 1), "2w": round(baseline["jobs_per_s_2w"], 1)},
        cpus=os.cpu_count(),
        scaling_ceiling=_scaling_ceiling(bursts[ONE_PROCESS.name][1]),
        scaling_ceiling_is="the machine's cores over the cores 1 worker's processes kept busy (median of its bursts): "
        "the most a second worker can add while the CPU an execution takes stays the same",
        load_average_at_end=[round(load, 2) for load in os.getloadavg()],  # 1, 5 and 15 minutes: other work
    )


def _procfile_rates(bursts: dict[str, Bursts], shape: Shape) -> dict[str, Any]:
    measured = bursts[shape.name]
    one, two = _rates(measured)
    return {
        "workers": shape.description,
        "per_min_1w": round(one, 1),
        "per_min_2w": round(two, 1),
        "scaling": round(two / one, 2),
        "scaling_ceiling": _scaling_ceiling(measured[1]),
        "bursts": {f"{n}w": [_describe(b) for b in measured[n]] for n in (1, 2)},
    }


def _rates(bursts: Bursts) -> tuple[float, float]:
    one, two = (statistics.median(b.per_min for b in bursts[n]) for n in (1, 2))
    return one, two


def _scaling_ceiling(bursts: list[Burst]) -> float | None:
    busy = [b.cores_busy for b in bursts if b.cores_busy]
    cores = os.cpu_count()
    return round(cores / statistics.median(busy), 2) if busy and cores else None


def _describe(burst: Burst) -> dict[str, float | None]:
    return {
        "per_min": round(burst.per_min, 1),
        "worker_cpu_ms_per_execution": None if burst.cpu_ms is None else round(burst.cpu_ms, 1),
        "worker_cores_busy": None if burst.cores_busy is None else round(burst.cores_busy, 2),
        "machine_cores_busy": None if burst.machine_cores_busy is None else round(burst.machine_cores_busy, 2),
    }


if __name__ == "__main__":
    main()
