"""Receiving a GitHub delivery: record it once and start the pipelines it concerns, in one short unit of work.

No git, S3 or subprocess work happens here: GitHub gives a webhook ten seconds. The executions created are picked
up by the pipeline queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from conveyor.db import insert_unless_present
from conveyor.db.models import Pipeline, PipelineVersion, SourceSubscription, WebhookDelivery, new_id, utcnow
from conveyor.dispatch import Outbox
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.definitions import definition_of_version
from conveyor.pipeline.service import start_execution
from conveyor.pipeline.status import TriggerType
from conveyor.runtime import Runtime
from conveyor.triggers.github import PushEvent, parse_push, push_starts


@dataclass
class DeliveryOutcome:
    status: str  # started | ignored | duplicate
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
    starts = _what_starts(session, push) if push is not None else []
    execution_ids = [new_id() for _ in starts]
    outcome = _outcome(event, push, execution_ids)
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
            "received_at": utcnow(),
        },
        unique="delivery_id",
    )
    if not recorded:
        return DeliveryOutcome("duplicate", detail=f"delivery {delivery_id} was already received")
    if push is None:
        return outcome
    for execution_id, (pipeline_id, version, actions) in zip(execution_ids, starts, strict=True):
        pushed = {"commit": push.after, "ref": push.ref, "before": push.before, "actor": push.sender_id}
        revisions = dict.fromkeys(actions, pushed)
        detail = f"push of {push.ref} at {push.after[:12]} by {push.pusher or 'unknown'} (delivery {delivery_id})"
        start_execution(
            session, outbox, pipeline_id, version, TriggerType.WEBHOOK, detail, revisions, execution_id=execution_id
        )
    return outcome


_SUBSCRIBED = (  # built once: this query runs on every push delivery
    select(SourceSubscription.pipeline_id, Pipeline.version, PipelineVersion.id, SourceSubscription.action_name)
    .join(Pipeline, Pipeline.id == SourceSubscription.pipeline_id)
    .join(PipelineVersion, (PipelineVersion.pipeline_id == Pipeline.id) & (PipelineVersion.version == Pipeline.version))
    .where(SourceSubscription.repository_key.in_(bindparam("keys", expanding=True)))
    .distinct()
)


def _what_starts(session: Session, push: PushEvent) -> list[tuple[int, int, list[str]]]:
    """(pipeline id, version, source actions started) for each pipeline this push starts."""
    if push.deleted:
        return []
    keys = tuple(sorted(push.repository_keys))
    seen = session.info.setdefault("subscriptions", {})  # deliveries committed together often share a repository
    if keys not in seen:
        seen[keys] = session.connection().execute(_SUBSCRIBED, {"keys": list(keys)}).all()
    rows = seen[keys]
    candidates: dict[tuple[int, int, int], set[str]] = {}
    for pipeline_id, version, version_id, action_name in rows:
        candidates.setdefault((pipeline_id, version, version_id), set()).add(action_name)
    starts = []
    for (pipeline_id, version, version_id), subscribed in sorted(candidates.items()):
        definition = definition_of_version(session, version_id)
        filters = {  # a trigger on a source action replaces its default change detection
            t["gitConfiguration"]["sourceActionName"]: t["gitConfiguration"].get("push", [])
            for t in definition.triggers()
        }
        matched = [
            action.name
            for action in definition.source_actions()
            if action.name in subscribed
            and push_starts(git_source(action.configuration), filters.get(action.name), push)
        ]
        if matched:
            starts.append((pipeline_id, version, matched))
    return starts


def _outcome(event: str, push: PushEvent | None, execution_ids: list[str]) -> DeliveryOutcome:
    if push is None:
        return DeliveryOutcome("ignored", detail=f"event {event!r} starts nothing")
    if push.deleted:
        return DeliveryOutcome("ignored", detail="a branch or tag deletion starts nothing")
    if not execution_ids:
        return DeliveryOutcome("ignored", detail=f"no pipeline starts on {push.ref} of {push.repository_name}")
    return DeliveryOutcome("started", execution_ids)
