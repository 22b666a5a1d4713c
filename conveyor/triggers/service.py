"""Receiving a GitHub delivery: record it once and start the pipelines it concerns, in one short unit of work.

No git, S3 or subprocess work happens while a delivery is received: GitHub gives a webhook ten seconds. The
executions created are picked up by the pipeline queue. A push that only file path filters could decide, and whose
payload may not list every changed file, is recorded `deferred`: a job reads the changed files from git
(`start_deferred`) and starts what they match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from conveyor.db import insert_unless_present
from conveyor.db.models import Pipeline, PipelineVersion, SourceSubscription, WebhookDelivery, new_id, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.pipeline.actions.git_source import mirrors
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.definitions import definition_of_version
from conveyor.pipeline.service import start_execution
from conveyor.pipeline.status import TriggerType
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.triggers.github import ChangedFilesNeeded, PushEvent, parse_push, push_starts

log = logging.getLogger(__name__)


@dataclass
class DeliveryOutcome:
    status: str  # started | ignored | duplicate | deferred (decided by a job that reads the changed files)
    execution_ids: list[str] = field(default_factory=list)
    detail: str = ""


def receive_delivery(rt: Runtime, delivery_id: str, event: str, payload: Any) -> DeliveryOutcome:
    """Record a delivery (a redelivery of the same id starts nothing) and start what a push asks for.

    One short unit of work, committed with those of deliveries arriving at the same moment (`CommitGroup`): find
    what the push starts (reads), insert the delivery unless its id is known, then the executions and their
    dispatches. A known id writes nothing.
    """
    push = parse_push(payload) if event == "push" else None
    return rt.commit_group.run(partial(_record, delivery_id, event, push))


def _record(delivery_id: str, event: str, push: PushEvent | None, session: Session, outbox: Outbox) -> DeliveryOutcome:
    starts, deferred = _what_starts(session, push) if push is not None else ([], [])
    execution_ids = [new_id() for _ in starts]
    outcome = _outcome(event, push, execution_ids, deferred)
    recorded = insert_unless_present(
        session,
        WebhookDelivery,
        {
            "delivery_id": delivery_id,
            "event": event,
            "outcome": outcome.status,
            "repository": push.repository_name if push else None,
            "ref": push.ref if push else None,
            "head_commit": push.after if push else None,
            "execution_ids": execution_ids,
            "deferred": {"push": push.record(), "pipelines": deferred} if push and deferred else None,
            "received_at": utcnow(),
        },
        unique="delivery_id",
    )
    if not recorded:
        return DeliveryOutcome("duplicate", detail=f"delivery {delivery_id} was already received")
    if push is None:
        return outcome
    _start(session, outbox, delivery_id, push, starts, execution_ids)
    if deferred:
        outbox.add(Kind.CHANGED_FILES, delivery_id, DEFAULT_QUEUE, timeout_seconds=600)
    return outcome


def start_deferred(rt: Runtime, delivery_id: str) -> DeliveryOutcome:
    """Decide a delivery whose file path filters needed the changed files: read them from git, then start."""
    with rt.db.reader() as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).one()
        deferred = delivery.deferred or {}
    if delivery.outcome != "deferred":
        return DeliveryOutcome(delivery.outcome, list(delivery.execution_ids), "already decided")
    push = PushEvent.from_record(deferred["push"])
    files: set[str] = set()
    for url in sorted({url for _, url in deferred["pipelines"]}):
        files |= mirrors(rt).changed_files(url, push.before, push.after)
    push = replace(push, changed_files=frozenset(files))
    with rt.transaction() as (session, outbox):
        row = session.get_one(WebhookDelivery, delivery.id, with_for_update=True, populate_existing=True)
        if row.outcome != "deferred":
            return DeliveryOutcome(row.outcome, list(row.execution_ids), "already decided")
        starts, _ = _what_starts(session, push, only={pipeline_id for pipeline_id, _ in deferred["pipelines"]})
        execution_ids = [new_id() for _ in starts]
        _start(session, outbox, delivery_id, push, starts, execution_ids)
        row.execution_ids = [*row.execution_ids, *execution_ids]
        row.outcome = "started" if row.execution_ids else "ignored"
        return DeliveryOutcome(row.outcome, execution_ids, f"{len(files)} changed file(s) read from git")


def give_up_deferred(rt: Runtime, delivery_id: str, reason: str) -> None:
    """The changed files could not be read: the delivery ends failed, with the reason in the log."""
    with rt.db.session() as session:
        row = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id).with_for_update()
        ).one_or_none()
        if row is not None and row.outcome == "deferred":
            row.outcome = "failed"
            log.warning("delivery %s: could not read the changed files: %s", delivery_id, reason)


def _start(
    session: Session,
    outbox: Outbox,
    delivery_id: str,
    push: PushEvent,
    starts: list[tuple[int, int, list[str]]],
    execution_ids: list[str],
) -> None:
    for execution_id, (pipeline_id, version, actions) in zip(execution_ids, starts, strict=True):
        pushed = {"commit": push.after, "ref": push.ref, "before": push.before, "actor": push.sender_id}
        revisions = dict.fromkeys(actions, pushed)
        detail = f"push of {push.ref} at {push.after[:12]} by {push.pusher or 'unknown'} (delivery {delivery_id})"
        start_execution(
            session, outbox, pipeline_id, version, TriggerType.WEBHOOK, detail, revisions, execution_id=execution_id
        )


_SUBSCRIBED = (  # built once: this query runs on every push delivery
    select(SourceSubscription.pipeline_id, Pipeline.version, PipelineVersion.id, SourceSubscription.action_name)
    .join(Pipeline, Pipeline.id == SourceSubscription.pipeline_id)
    .join(PipelineVersion, (PipelineVersion.pipeline_id == Pipeline.id) & (PipelineVersion.version == Pipeline.version))
    .where(SourceSubscription.repository_key.in_(bindparam("keys", expanding=True)))
    .distinct()
)


def _what_starts(
    session: Session, push: PushEvent, only: set[int] | None = None
) -> tuple[list[tuple[int, int, list[str]]], list[tuple[int, str]]]:
    """(pipeline id, version, source actions started) for each pipeline this push starts, and (pipeline id, clone
    URL) for each that cannot be decided without the changed files the payload did not list."""
    if push.deleted:
        return [], []
    keys = tuple(sorted(push.repository_keys))
    seen = session.info.setdefault("subscriptions", {})  # deliveries committed together often share a repository
    if keys not in seen:
        seen[keys] = session.connection().execute(_SUBSCRIBED, {"keys": list(keys)}).all()
    candidates: dict[tuple[int, int, int], set[str]] = {}
    for pipeline_id, version, version_id, action_name in seen[keys]:
        if only is None or pipeline_id in only:
            candidates.setdefault((pipeline_id, version, version_id), set()).add(action_name)
    starts, deferred = [], []
    for (pipeline_id, version, version_id), subscribed in sorted(candidates.items()):
        definition = definition_of_version(session, version_id)
        filters = {  # a trigger on a source action replaces its default change detection
            t["gitConfiguration"]["sourceActionName"]: t["gitConfiguration"].get("push", [])
            for t in definition.triggers()
        }
        matched, undecided = [], []
        for action in definition.source_actions():
            if action.name not in subscribed:
                continue
            source = git_source(action.configuration)
            try:
                if push_starts(source, filters.get(action.name), push):
                    matched.append(action.name)
            except ChangedFilesNeeded:
                undecided.append(source.url)
        if matched:
            starts.append((pipeline_id, version, matched))
        elif undecided:
            deferred.append((pipeline_id, undecided[0]))
    return starts, deferred


def _outcome(
    event: str, push: PushEvent | None, execution_ids: list[str], deferred: list[tuple[int, str]]
) -> DeliveryOutcome:
    if push is None:
        return DeliveryOutcome("ignored", detail=f"event {event!r} starts nothing")
    if push.deleted:
        return DeliveryOutcome("ignored", detail="a branch or tag deletion starts nothing")
    if deferred:
        detail = f"{len(deferred)} pipeline(s) filter on file paths and the payload may not list every changed file"
        return DeliveryOutcome("deferred", execution_ids, f"{detail}: they are read from git")
    if not execution_ids:
        return DeliveryOutcome("ignored", detail=f"no pipeline starts on {push.ref} of {push.repository_name}")
    return DeliveryOutcome("started", execution_ids)
