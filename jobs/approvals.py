"""Approval jobs: tell an approval's SNS topic that it waits for an answer."""

from __future__ import annotations

from conveyor.pipeline.actions.approval import send_notice
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def notify(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _notify)


def _notify(rt: Runtime, action_execution_id: str, _lease: Lease) -> None:
    send_notice(rt, action_execution_id)
