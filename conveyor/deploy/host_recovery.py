"""A host whose agent could not finish its part of a deployment (it stopped, or its job kept failing).

The target fails with the reason on the event that was running (an AGENT_ISSUE), the events not run are Skipped,
and the deployment moves on as for any failed host.
"""

from __future__ import annotations

from typing import Any

from conveyor.db import lock
from conveyor.db.deploy_models import DeploymentTarget
from conveyor.deploy.orchestration import parse_host_subject, record_host_result
from conveyor.deploy.status import LifecycleEventStatus
from conveyor.runtime import Runtime


def give_up_host(rt: Runtime, subject: str, reason: str) -> None:
    deployment_id, host = parse_host_subject(subject)
    message = f"the agent of host {host} did not finish: {reason}"
    with rt.db.session() as session:
        target = lock(session, DeploymentTarget, (deployment_id, host))
        if target is None:
            return
        target.lifecycle_events = _failed_events(target.lifecycle_events, message)
    record_host_result(rt, deployment_id, host, succeeded=False)


def _failed_events(events: list[Any], message: str) -> list[Any]:
    """The event that was running (or the first not run) Failed with `message`; the ones after it Skipped."""
    diagnostics = {"errorCode": "UnknownError", "scriptName": "", "message": message, "logTail": ""}
    open_statuses = (LifecycleEventStatus.IN_PROGRESS.value, LifecycleEventStatus.PENDING.value)
    failed_one = False
    result = []
    for entry in events:
        if entry["status"] not in open_statuses:
            result.append(entry)
        elif not failed_one:
            result.append({**entry, "status": LifecycleEventStatus.FAILED.value, "diagnostics": diagnostics})
            failed_one = True
        else:
            result.append({**entry, "status": LifecycleEventStatus.SKIPPED.value})
    return result
