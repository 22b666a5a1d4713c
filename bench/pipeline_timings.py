"""Stage transitions and action times of finished executions of the throughput pipeline, read from the database.

A transition runs from the first record that the previous action's work is over (a build's `end_time`, a source
action's `ended_at`) to the next build's `start_time`, through the next build's dispatch row: written (`report`
ends), claimed by a worker (`handoff` ends), then the build's attempt begins (`begin` ends).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bench.harness import percentile
from conveyor.db.models import ActionExecution, Build, Dispatch, PipelineExecution
from conveyor.dispatch import Kind
from conveyor.runtime import Runtime

STAGES = ("Source", "Build", "Test")


@dataclass(frozen=True)
class Transition:
    kind: str  # "<previous stage>→<next stage>"
    report_ms: float
    handoff_ms: float
    begin_ms: float

    @property
    def total_ms(self) -> float:
        return self.report_ms + self.handoff_ms + self.begin_ms


@dataclass(frozen=True)
class Records:
    actions: dict[tuple[str, str], ActionExecution]  # (execution id, stage name) → its one action
    builds: dict[str, Build]  # by action execution id
    dispatches: dict[str, Dispatch]  # by subject: a build's by build id, a source action's by action id


def transitions(rt: Runtime, execution_ids: list[str]) -> list[Transition]:
    """Both transitions (Source→Build, Build→Test) of each execution."""
    records = _load(rt, execution_ids)
    found = []
    for execution_id in execution_ids:
        source, build, test = (records.actions[(execution_id, stage)] for stage in STAGES)
        first, second = records.builds[build.id], records.builds[test.id]
        found.append(_transition("Source→Build", source.ended_at, first, records.dispatches[first.id]))
        found.append(_transition("Build→Test", first.end_time, second, records.dispatches[second.id]))
    return found


def summarise(found: list[Transition]) -> dict[str, Any]:
    """p50 and p95 of the whole transition, p50 of each part, and p50/p95 per kind."""
    totals = [t.total_ms for t in found]
    kinds = sorted({t.kind for t in found})
    return {
        "count": len(found),
        "p50_ms": _pct(totals, 50),
        "p95_ms": _pct(totals, 95),
        "parts_p50_ms": {
            "report": _p50(t.report_ms for t in found),
            "handoff": _p50(t.handoff_ms for t in found),
            "begin": _p50(t.begin_ms for t in found),
        },
        "by_kind": {
            kind: {
                "p50_ms": _pct((t.total_ms for t in found if t.kind == kind), 50),
                "p95_ms": _pct((t.total_ms for t in found if t.kind == kind), 95),
            }
            for kind in kinds
        },
    }


def execution_timeline(rt: Runtime, execution_ids: list[str]) -> dict[str, float]:
    """Where an execution's time goes, as p50s of its consecutive segments (they add up to `total`): `start`
    (created → its source action's job claimed: the advance job and one queue hop), `source` (the fetch, until
    its result is recorded), the two `builds`, the two `transitions`, and `end` (→ the execution is recorded as
    ended)."""
    records = _load(rt, execution_ids)
    with rt.db.reader() as session:
        executions = {
            e.id: e for e in session.scalars(select(PipelineExecution).where(PipelineExecution.id.in_(execution_ids)))
        }
    segments: dict[str, list[float]] = {name: [] for name in ("start", "source", "builds", "transitions", "end")}
    for execution_id in execution_ids:
        execution = executions[execution_id]
        source, build, test = (records.actions[(execution_id, stage)] for stage in STAGES)
        fetch = records.dispatches[source.id]
        first, second = records.builds[build.id], records.builds[test.id]
        segments["start"].append(_ms(execution.created_at, fetch.started_at))
        segments["source"].append(_ms(fetch.started_at, source.ended_at))
        segments["builds"].append(_ms(first.start_time, first.end_time) + _ms(second.start_time, second.end_time))
        segments["transitions"].append(_ms(source.ended_at, first.start_time) + _ms(first.end_time, second.start_time))
        segments["end"].append(_ms(second.end_time, execution.ended_at))
    totals = [_ms(e.created_at, e.ended_at) for e in executions.values()]
    return {"total": _p50(totals), **{name: _p50(values) for name, values in segments.items()}}


def _load(rt: Runtime, execution_ids: list[str]) -> Records:
    with rt.db.reader() as session:
        actions = list(session.scalars(select(ActionExecution).where(ActionExecution.execution_id.in_(execution_ids))))
        builds = list(session.scalars(select(Build).where(Build.action_execution_id.in_([a.id for a in actions]))))
        subjects = [b.id for b in builds] + [a.id for a in actions]
        dispatches = session.scalars(
            select(Dispatch).where(
                Dispatch.kind.in_([Kind.BUILD.value, Kind.ACTION.value]), Dispatch.subject_id.in_(subjects)
            )
        )
        return Records(
            actions={(a.execution_id, a.stage_name): a for a in actions},
            builds={b.action_execution_id: b for b in builds if b.action_execution_id is not None},
            dispatches={d.subject_id: d for d in dispatches},
        )


def _transition(kind: str, finished: datetime | None, build: Build, dispatch: Dispatch) -> Transition:
    return Transition(
        kind,
        report_ms=_ms(finished, dispatch.created_at),
        handoff_ms=_ms(dispatch.created_at, dispatch.started_at),
        begin_ms=_ms(dispatch.started_at, build.start_time),
    )


def _ms(earlier: datetime | None, later: datetime | None) -> float:
    if earlier is None or later is None:
        raise RuntimeError("a finished execution lacks a timestamp the benchmark reads")
    return (later - earlier).total_seconds() * 1000


def _p50(values: Iterable[float]) -> float:
    return _pct(values, 50)


def _pct(values: Iterable[float], q: float) -> float:
    return round(percentile(list(values), q), 1)
