"""Manual approval actions: the action waits, with a token, until someone approves or rejects it or time runs out.

The token is a fresh UUID per approval, kept as the action's external execution id, so it serves both as
GetPipelineState's `token` and, as in PARALLEL mode, as the `externalExecutionId`. No job runs: the answer comes
through `control.put_approval_result`, and the reconciler fails an approval left unanswered past its deadline
(`timeoutInMinutes`, default 7 days). The stage stays locked meanwhile, because the action is in progress.
"""

from __future__ import annotations

from datetime import timedelta

from conveyor.db.models import new_id, utcnow
from conveyor.pipeline.actions.base import ActionStart

DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60


def start(context: ActionStart) -> None:
    minutes = context.declaration.timeout_in_minutes or DEFAULT_TIMEOUT_MINUTES
    context.action.external_execution_id = new_id()
    context.action.deadline_at = utcnow() + timedelta(minutes=minutes)
    context.action.summary = "Waiting for approval"
