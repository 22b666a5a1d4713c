"""Action jobs: run the work of an action whose provider does it in a job, then report how it ended (or leave the
report to the work it started, as a CodeDeploy action leaves it to its deployment)."""

from __future__ import annotations

from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions import run_action
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def run(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _run)


def _run(rt: Runtime, action_execution_id: str, _lease: Lease) -> None:
    outcome = run_action(rt, action_execution_id)
    if outcome is not None:  # None: the action's work goes on elsewhere and reports when it ends
        pipelines.complete_action(rt, action_execution_id, outcome)
