"""Receiving a GitHub delivery: record it once and start the pipelines it concerns, in one short unit of work.

Pushes and pull requests go the same way (`conveyor.triggers.events` holds what differs). No git, S3 or
subprocess work happens while a delivery is received: GitHub gives a webhook ten seconds. The executions created
are picked up by the pipeline queue. An event that only file path filters could decide, and whose payload does not
list every changed file (a long push; any pull request), is recorded `deferred`: a job reads the changed files from
git (`start_deferred`) and starts what they match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.orm import Session

from conveyor.db import insert_many_unless_present
from conveyor.db.models import Pipeline, PipelineVersion, SourceSubscription, WebhookDelivery, utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.ids import new_id
from conveyor.pipeline.actions.git_source import mirrors
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.definitions import definition_of_version
from conveyor.pipeline.spec import PipelineDefinition
from conveyor.pipeline.starts import ExecutionStart, start_executions
from conveyor.pipeline.status import TriggerType
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.triggers import events
from conveyor.triggers.events import TriggerEvent
from conveyor.triggers.github import ChangedFilesNeeded, PushEvent
from conveyor.triggers.outcomes import DeliveryOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """A delivery as the handler read it: its id, its event name, and the event parsed (None for kinds that never
    start anything)."""

    delivery_id: str
    event: str
    parsed: TriggerEvent | None


def receive_delivery(rt: Runtime, delivery_id: str, event: str, payload: Any) -> DeliveryOutcome:
    """Record a delivery (a redelivery of the same id starts nothing) and start what a push or pull request asks for.

    One short unit of work, recorded together with the deliveries arriving at the same moment (`CommitGroup`).
    """
    delivery = Delivery(delivery_id, event, events.parse_event(event, payload))
    return rt.commit_group.run(record_deliveries, delivery)


@dataclass
class _Decision:
    outcome: DeliveryOutcome
    row: dict[str, Any]
    starts: list[ExecutionStart]


def record_deliveries(session: Session, outbox: Outbox, deliveries: list[Delivery]) -> list[DeliveryOutcome]:
    """Decide what each delivery starts (reads), insert the deliveries whose id is not known yet, then the
    executions of those and their dispatches: one statement per table whatever the number of deliveries. A known
    id, or one repeated in the batch, writes nothing and answers `duplicate`."""
    decisions = [_decide(session, delivery) for delivery in deliveries]
    first: dict[str, int] = {}
    for index, delivery in enumerate(deliveries):
        first.setdefault(delivery.delivery_id, index)
    rows = [decisions[index].row for index in first.values()]
    inserted = insert_many_unless_present(session, WebhookDelivery, rows, unique="delivery_id")
    outcomes: list[DeliveryOutcome] = []
    starts: list[ExecutionStart] = []
    deferred: list[str] = []
    for index, (delivery, decision) in enumerate(zip(deliveries, decisions, strict=True)):
        if first[delivery.delivery_id] != index or delivery.delivery_id not in inserted:
            outcomes.append(
                DeliveryOutcome("duplicate", detail=f"delivery {delivery.delivery_id} was already received")
            )
            continue
        outcomes.append(decision.outcome)
        starts.extend(decision.starts)
        if decision.outcome.status == "deferred":
            deferred.append(delivery.delivery_id)
    start_executions(session, outbox, starts)
    outbox.add_many(Kind.CHANGED_FILES, deferred, DEFAULT_QUEUE, timeout_seconds=600)
    return outcomes


def _decide(session: Session, delivery: Delivery) -> _Decision:
    """What a delivery starts, its answer, and its row."""
    parsed = delivery.parsed
    starts, deferred = _what_starts(session, parsed) if parsed is not None else ([], [])
    execution_ids = [new_id() for _ in starts]
    outcome = _outcome(delivery.event, parsed, execution_ids, deferred)
    columns = events.delivery_columns(parsed) if parsed else {}
    row = {
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "outcome": outcome.status,
        "detail": outcome.detail,
        "repository": columns.get("repository"),
        "ref": columns.get("ref"),
        "head_commit": columns.get("head_commit"),
        "execution_ids": execution_ids,
        "deferred": {**events.record(parsed), "pipelines": deferred} if parsed and deferred else None,
        "received_at": utcnow(),
    }
    executions = _execution_starts(delivery.delivery_id, parsed, starts, execution_ids) if parsed else []
    return _Decision(outcome, row, executions)


def start_deferred(rt: Runtime, delivery_id: str) -> DeliveryOutcome:
    """Decide a delivery whose file path filters needed the changed files: read them from git, then start."""
    with rt.db.reader() as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).one()
        deferred = delivery.deferred or {}
    if delivery.outcome != "deferred":
        return DeliveryOutcome(delivery.outcome, list(delivery.execution_ids), "already decided")
    event = events.from_record(deferred)
    files: set[str] = set()
    for url in sorted({url for _, url in deferred["pipelines"]}):
        files |= _changed_files(rt, url, event)
    event = replace(event, changed_files=frozenset(files))
    with rt.transaction() as (session, outbox):
        row = session.get_one(WebhookDelivery, delivery.id, with_for_update=True, populate_existing=True)
        if row.outcome != "deferred":
            return DeliveryOutcome(row.outcome, list(row.execution_ids), "already decided")
        starts, _ = _what_starts(session, event, only={pipeline_id for pipeline_id, _ in deferred["pipelines"]})
        execution_ids = [new_id() for _ in starts]
        start_executions(session, outbox, _execution_starts(delivery_id, event, starts, execution_ids))
        row.execution_ids = [*row.execution_ids, *execution_ids]
        row.outcome = "started" if row.execution_ids else "ignored"
        row.detail = f"{len(files)} changed file(s) read from git"
        if not row.execution_ids:
            row.detail += ": no file path filter matched them"
        return DeliveryOutcome(row.outcome, execution_ids, row.detail)


def _changed_files(rt: Runtime, url: str, event: TriggerEvent) -> frozenset[str]:
    """A push's changed files (`before..after`), or a pull request's (merge base of base and head..head)."""
    if isinstance(event, PushEvent):
        return mirrors(rt).changed_files(url, event.before, event.after)
    return mirrors(rt).pull_request_files(url, event.base_sha, event.head_sha, refs=(event.fetch_ref,))


def give_up_deferred(rt: Runtime, delivery_id: str, reason: str) -> None:
    """The changed files could not be read: the delivery ends failed, with the reason in the log."""
    with rt.db.session() as session:
        row = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id).with_for_update()
        ).one_or_none()
        if row is not None and row.outcome == "deferred":
            row.outcome = "failed"
            row.detail = f"could not read the changed files: {reason}"
            log.warning("delivery %s: could not read the changed files: %s", delivery_id, reason)


def _execution_starts(
    delivery_id: str, event: TriggerEvent, starts: list[PipelineStart], execution_ids: list[str]
) -> list[ExecutionStart]:
    trigger_type, detail, revision = events.execution_start(event, delivery_id)
    return [
        ExecutionStart(
            start.pipeline_id,
            start.version,
            TriggerType.WEBHOOK_V2 if start.by_trigger else trigger_type,
            detail,
            dict.fromkeys(start.actions, revision),
            execution_id=execution_id,
        )
        for execution_id, start in zip(execution_ids, starts, strict=True)
    ]


@dataclass(frozen=True)
class PipelineStart:
    """A pipeline an event starts: at which version, which of its source actions, and whether a V2 trigger chose
    them (trigger type WebhookV2) or the sources' default change detection did (Webhook)."""

    pipeline_id: int
    version: int
    actions: list[str]
    by_trigger: bool


@cache
def _subscribed(keys: int) -> Select[int, int, int, str]:
    """The subscriptions of `keys` repository keys (bound as key0, key1, …). One statement per number of keys, built
    once: an expanding IN would be rendered again on every push and pull request delivery."""
    named: list[BindParameter[str]] = [bindparam(f"key{n}") for n in range(keys)]
    return (
        select(SourceSubscription.pipeline_id, Pipeline.version, PipelineVersion.id, SourceSubscription.action_name)
        .join(Pipeline, Pipeline.id == SourceSubscription.pipeline_id)
        .join(
            PipelineVersion,
            (PipelineVersion.pipeline_id == Pipeline.id) & (PipelineVersion.version == Pipeline.version),
        )
        .where(SourceSubscription.repository_key.in_(named))
        .distinct()
    )


def _what_starts(
    session: Session, event: TriggerEvent, only: set[int] | None = None
) -> tuple[list[PipelineStart], list[tuple[int, str]]]:
    """(pipeline id, version, source actions started) for each pipeline this event starts, and (pipeline id, clone
    URL) for each that cannot be decided without the changed files the payload did not list."""
    if events.inert_reason(event) is not None:
        return [], []
    keys = tuple(sorted(event.repository_keys))
    seen = session.info.setdefault("subscriptions", {})  # deliveries committed together often share a repository
    if keys not in seen:
        bound = {f"key{n}": key for n, key in enumerate(keys)}
        seen[keys] = session.connection().execute(_subscribed(len(keys)), bound).all()
    candidates: dict[tuple[int, int, int], set[str]] = {}
    for pipeline_id, version, version_id, action_name in seen[keys]:
        if only is None or pipeline_id in only:
            candidates.setdefault((pipeline_id, version, version_id), set()).add(action_name)
    starts: list[PipelineStart] = []
    deferred: list[tuple[int, str]] = []
    for (pipeline_id, version, version_id), subscribed in sorted(candidates.items()):
        definition = definition_of_version(session, version_id)
        matched, undecided = _sources_started(definition, subscribed, event)
        if matched:
            triggered = {t["gitConfiguration"]["sourceActionName"] for t in definition.triggers()}
            starts.append(PipelineStart(pipeline_id, version, matched, bool(triggered & set(matched))))
        elif undecided:
            deferred.append((pipeline_id, undecided[0]))
    return starts, deferred


def _sources_started(
    definition: PipelineDefinition, subscribed: set[str], event: TriggerEvent
) -> tuple[list[str], list[str]]:
    """The subscribed source actions the event starts, and the clone URLs of those the changed files would decide."""
    configurations = {t["gitConfiguration"]["sourceActionName"]: t["gitConfiguration"] for t in definition.triggers()}
    matched, undecided = [], []
    for action in definition.source_actions():
        if action.name not in subscribed:
            continue
        source = git_source(action.configuration)
        try:
            if events.starts(source, configurations.get(action.name), event):
                matched.append(action.name)
        except ChangedFilesNeeded:
            undecided.append(source.url)
    return matched, undecided


def _outcome(
    event: str, parsed: TriggerEvent | None, execution_ids: list[str], deferred: list[tuple[int, str]]
) -> DeliveryOutcome:
    if parsed is None:
        return DeliveryOutcome("ignored", detail=f"event {event!r} starts nothing")
    inert = events.inert_reason(parsed)
    if inert is not None:
        return DeliveryOutcome("ignored", detail=inert)
    if deferred:
        return DeliveryOutcome("deferred", execution_ids, events.why_deferred(parsed, len(deferred)))
    if not execution_ids:
        return DeliveryOutcome("ignored", detail=events.nothing_matched(parsed))
    return DeliveryOutcome("started", execution_ids)
