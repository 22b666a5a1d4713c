"""Receiving a GitHub delivery: record it once, start the pipelines it concerns, all in one short transaction.

No git, S3 or subprocess work happens here: GitHub gives a webhook ten seconds. The executions created are picked
up by the pipeline queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from conveyor.db.models import Pipeline, SourceSubscription, WebhookDelivery
from conveyor.dispatch import Outbox
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.definitions import load_definition
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
    """Record a delivery (a redelivery of the same id starts nothing) and start what a push asks for."""
    push = parse_push(payload) if event == "push" else None
    with rt.transaction() as (session, outbox):
        delivery = WebhookDelivery(
            delivery_id=delivery_id,
            event=event,
            outcome="ignored",
            repository=push.repository_name if push else None,
            ref=push.ref if push else None,
            head_commit=push.after if push else None,
        )
        session.add(delivery)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return DeliveryOutcome("duplicate", detail=f"delivery {delivery_id} was already received")
        if push is None:
            return DeliveryOutcome("ignored", detail=f"event {event!r} starts nothing")
        outcome = _start_pipelines(session, outbox, push, delivery_id)
        delivery.outcome = outcome.status
        delivery.execution_ids = outcome.execution_ids
        return outcome


def _start_pipelines(session: Session, outbox: Outbox, push: PushEvent, delivery_id: str) -> DeliveryOutcome:
    if push.deleted:
        return DeliveryOutcome("ignored", detail="a branch or tag deletion starts nothing")
    rows = session.execute(
        select(SourceSubscription.pipeline_id, SourceSubscription.action_name)
        .where(SourceSubscription.repository_key.in_(push.repository_keys))
        .distinct()
    ).all()
    by_pipeline: dict[int, set[str]] = {}
    for pipeline_id, action_name in rows:
        by_pipeline.setdefault(pipeline_id, set()).add(action_name)
    started: list[str] = []
    for pipeline_id in sorted(by_pipeline):
        pipeline = session.get_one(Pipeline, pipeline_id)
        definition = load_definition(session, pipeline.id, pipeline.version)
        filters = {  # a trigger on a source action replaces its default change detection
            t["gitConfiguration"]["sourceActionName"]: t["gitConfiguration"].get("push", [])
            for t in definition.triggers()
        }
        matched = [
            action.name
            for action in definition.source_actions()
            if action.name in by_pipeline[pipeline_id]
            and push_starts(git_source(action.configuration), filters.get(action.name), push)
        ]
        if not matched:
            continue
        revisions = {name: {"commit": push.after, "ref": push.ref} for name in matched}
        detail = f"push of {push.ref} at {push.after[:12]} by {push.pusher or 'unknown'} (delivery {delivery_id})"
        execution = start_execution(session, outbox, pipeline, TriggerType.WEBHOOK, detail, revisions)
        started.append(execution.id)
    if not started:
        return DeliveryOutcome("ignored", detail=f"no pipeline starts on {push.ref} of {push.repository_name}")
    return DeliveryOutcome("started", started)
