"""Two scheduler processes racing for the same slots fire each slot exactly once (SQLite and PostgreSQL).

Each process runs the scheduler's firing pass (`fire_due`) on its own runtime and connections; a barrier lets both
into every pass at the same moment, with the same clock, so both find the same schedules due.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

from sqlalchemy import func, select

from conveyor.config import Settings
from conveyor.db.models import Build, PipelineExecution
from conveyor.db.schedule_models import ScheduleFiring
from conveyor.runtime import Runtime
from conveyor.schedules import registry
from conveyor.schedules.firing import fire_due
from jobs.runtime import make_runtime
from tests.support.gitrepo import GitRepo
from tests.support.schedules import T0, build_schedule, janitor_project, pipeline_schedule, release_pipeline

PASSES = 12
SCHEDULES = 8
START = T0.replace(second=0)


def _scheduler(settings: Settings, barrier: Barrier, results: Any) -> None:
    """One scheduler process: a pass a minute, each starting with the other's."""
    rt = make_runtime(settings)
    fired = []
    try:
        for minute in range(1, PASSES + 1):
            barrier.wait(timeout=60)
            now = START + timedelta(minutes=minute, seconds=1)
            fired += [(f.schedule, f.slot.isoformat(), f.status.value) for f in fire_due(rt, now)]
    finally:
        rt.db.dispose()
    results.put(fired)


def test_two_schedulers_racing_fire_every_slot_exactly_once(rt: Runtime, repo: GitRepo, settings: Settings) -> None:
    release_pipeline(rt, repo)
    janitor_project(rt)
    for index in range(SCHEDULES):
        make = pipeline_schedule if index % 2 else build_schedule
        registry.create_schedule(rt, make(f"every-minute-{index}", "rate(1 minute)"), now=START)

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    processes = [context.Process(target=_scheduler, args=(settings, barrier, results)) for _ in range(2)]
    for process in processes:
        process.start()
    fired = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert [p.exitcode for p in processes] == [0, 0]

    everything = fired[0] + fired[1]
    expected = {
        (f"every-minute-{index}", (START + timedelta(minutes=minute)).isoformat(), "STARTED")
        for index in range(SCHEDULES)
        for minute in range(1, PASSES + 1)
    }
    assert Counter(everything) == Counter(expected)  # every slot once, by one process or the other
    with rt.db.reader() as session:
        rows = session.execute(select(ScheduleFiring.schedule_id, ScheduleFiring.slot)).all()
        executions = session.scalar(select(func.count()).select_from(PipelineExecution))
        builds = session.scalar(select(func.count()).select_from(Build))
    assert len(rows) == len(set(rows)) == SCHEDULES * PASSES
    assert (executions, builds) == (SCHEDULES // 2 * PASSES, SCHEDULES // 2 * PASSES)
    assert all(isinstance(slot, datetime) for _, slot in rows)
