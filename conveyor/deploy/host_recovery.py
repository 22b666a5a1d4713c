"""A host whose agent could not finish its part of a deployment (it stopped, or its job kept failing), or never
took it up: a `deploy.host` dispatch still pending `UNCLAIMED_LIMIT` after it was sent (`expire_unclaimed`).

The target fails with the reason on the event that was running (an AGENT_ISSUE), the events not run are Skipped,
and the deployment moves on as for any failed host.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from conveyor.db import lock
from conveyor.db.deploy_models import DeploymentTarget
from conveyor.db.models import Dispatch
from conveyor.deploy.orchestration import parse_host_subject, record_host_result
from conveyor.deploy.status import LifecycleEventStatus
from conveyor.dispatch import DispatchState, Kind
from conveyor.runtime import Runtime

UNCLAIMED_LIMIT = timedelta(minutes=5)


def expire_unclaimed(rt: Runtime, now: datetime) -> list[str]:
    """Give up host work that no agent took within UNCLAIMED_LIMIT; return the dispatch ids."""
    expired: list[tuple[str, str]] = []
    with rt.db.session() as session:
        query = (
            select(Dispatch)
            .where(
                Dispatch.kind == Kind.DEPLOY_HOST.value,
                Dispatch.state == DispatchState.PENDING.value,
                Dispatch.created_at < now - UNCLAIMED_LIMIT,
            )
            .with_for_update(skip_locked=True)
        )
        for dispatch in session.scalars(query):
            dispatch.state = DispatchState.DONE.value
            dispatch.finished_at = now
            expired.append((dispatch.id, dispatch.subject_id))
    limit = int(UNCLAIMED_LIMIT.total_seconds())
    for _, subject in expired:
        give_up_host(rt, subject, f"no agent took the host's work within {limit} s (is its agent running?)")
    return [dispatch_id for dispatch_id, _ in expired]


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
