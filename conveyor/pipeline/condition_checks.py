"""Checking a stage condition: its rules run in a job, outside any lock, and the result settles the execution."""

from __future__ import annotations

from typing import Any

from conveyor.db.models import PipelineExecution
from conveyor.pipeline import conditions, engine, gates
from conveyor.pipeline.definitions import load_definition
from conveyor.pipeline.records import state_of
from conveyor.pipeline.service import settle
from conveyor.pipeline.status import ConditionStatus
from conveyor.runtime import Runtime


def check_condition(rt: Runtime, subject: str) -> None:
    """Run the rules of the condition a `stage.condition` dispatch names and record how the condition went."""
    execution_id, stage, kind = subject.split("|")
    with rt.db.reader() as session:
        execution = session.get_one(PipelineExecution, execution_id)
        declaration = load_definition(session, execution.pipeline_id, execution.pipeline_version).stage(stage)
    condition = declaration.rules.before_entry if kind == engine.BEFORE_ENTRY else declaration.rules.on_success
    assert condition is not None, f"stage {stage} has no {kind} condition"
    results = conditions.evaluate(rt, condition)
    complete_condition(rt, subject, all(r.passed for r in results), conditions.describe(results))


def complete_condition(rt: Runtime, subject: str, passed: bool, record: dict[str, Any]) -> bool:
    """Record a condition's result and settle the execution; False when nothing was waiting for it."""
    execution_id, stage, kind = subject.split("|")
    status = ConditionStatus.SUCCEEDED if passed else ConditionStatus.FAILED
    with rt.transaction() as (session, outbox):
        locked = gates.lock_execution(session, execution_id)
        before = state_of(locked.execution)
        if engine.record_condition(before, stage, kind, status) is before:
            return False
        row = next(s for s in locked.execution.stages if s.name == stage)
        row.conditions = {**(row.conditions or {}), kind: {**record, "status": status.value}}
        settle(rt, session, outbox, locked)
        return True
