"""Condition jobs: run the rules of a stage's beforeEntry or onSuccess condition and report the result."""

from __future__ import annotations

from conveyor.pipeline.condition_checks import check_condition
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def check(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _check)


def _check(rt: Runtime, subject: str, _lease: Lease) -> None:
    check_condition(rt, subject)
