"""A host whose agent could not finish its part of a deployment (it stopped, or its job kept failing), or never
took it up: a `deploy.host` dispatch still pending `UNCLAIMED_LIMIT` after it was sent (`expire_unclaimed`).

The target fails with the reason on the event that was running (an AGENT_ISSUE), the events not run are Skipped,
and the deployment moves on as for any failed host.

A released original host's clean-up (`deploy.retire`, after a blue/green deployment) that no agent took within
`RETIRE_UNCLAIMED_LIMIT` is given up too, with a warning: the deployment has ended, and the host has most likely gone
with its agent (originals are often terminated), so nothing else changes; without this its dispatch would wait, and
be looked at by every reconciler pass, for ever.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)
UNCLAIMED_LIMIT = timedelta(minutes=5)
RETIRE_UNCLAIMED_LIMIT = timedelta(hours=1)  # both well under the time a host's job waits in Redis (queues.py)


def expire_unclaimed(rt: Runtime, now: datetime) -> list[str]:
    """Give up host work that no agent took in time (see the module's contract); return the dispatch ids."""
    deploys = _take_unclaimed(rt, Kind.DEPLOY_HOST, now - UNCLAIMED_LIMIT, now)
    limit = int(UNCLAIMED_LIMIT.total_seconds())
    for _, subject in deploys:
        give_up_host(rt, subject, f"no agent took the host's work within {limit} s (is its agent running?)")
    retirements = _take_unclaimed(rt, Kind.RETIRE_HOST, now - RETIRE_UNCLAIMED_LIMIT, now)
    for _, subject in retirements:
        deployment_id, host = parse_host_subject(subject)
        log.warning(
            "no agent removed deployment %s's revision from released host %s within %s: given up",
            deployment_id,
            host,
            RETIRE_UNCLAIMED_LIMIT,
        )
    return [dispatch_id for dispatch_id, _ in deploys + retirements]


def _take_unclaimed(rt: Runtime, kind: Kind, sent_before: datetime, now: datetime) -> list[tuple[str, str]]:
    """Mark done the dispatches of `kind` still pending since before `sent_before`: (id, subject) of each."""
    taken: list[tuple[str, str]] = []
    with rt.db.session() as session:
        query = (
            select(Dispatch)
            .where(
                Dispatch.kind == kind.value,
                Dispatch.state == DispatchState.PENDING.value,
                Dispatch.created_at < sent_before,
            )
            .with_for_update(skip_locked=True)
        )
        for dispatch in session.scalars(query):
            dispatch.state = DispatchState.DONE.value
            dispatch.finished_at = now
            taken.append((dispatch.id, dispatch.subject_id))
    return taken


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
