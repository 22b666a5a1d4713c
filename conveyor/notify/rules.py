"""Notification rules: create, list, get, delete, send a test; and the deliveries of a rule or of the commit
statuses. What is shown never holds a secret: tokens and signing secrets are `***`, credential-bearing URLs are
masked (`conveyor.notify.spec`).

A test send is a delivery like any other, of a `Conveyor Notification Test` event, queued behind the rule's other
deliveries and sent by a job; the answer is the delivery, Pending, to be looked at in the rule's deliveries.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from conveyor.db.models import utcnow
from conveyor.db.notify_models import NotificationCursor, NotificationDelivery, NotificationRule
from conveyor.dispatch import Kind
from conveyor.errors import Conflict, NotFound
from conveyor.notify.catalog import TEST_TYPE
from conveyor.notify.commit_statuses import COMMIT_STATUSES
from conveyor.notify.feed import sample_event
from conveyor.notify.readers import add_delivery, open_cursor
from conveyor.notify.spec import parse_rule
from conveyor.notify.wake import JOB_TIMEOUT
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def create_rule(rt: Runtime, document: Any) -> dict[str, Any]:
    """Validate and save a rule; it tells what happens from now on."""
    spec = parse_rule(document, default_slack_token=bool(rt.settings.slack_bot_token))
    with rt.db.session() as session:
        if _find(session, spec.name) is not None:
            raise Conflict(f"a notification rule named {spec.name!r} already exists; delete it first")
        rule = NotificationRule(
            name=spec.name,
            event_type_ids=list(spec.event_type_ids),
            resources=spec.resources,
            target_type=spec.target_type,
            target=spec.target,
            secrets=spec.secrets,
        )
        session.add(rule)
        session.flush()
        open_cursor(session, rule.id)
        return describe_rule(rule, {})


def list_rules(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        rules = list(session.scalars(select(NotificationRule).order_by(NotificationRule.name)))
        return [describe_rule(rule, _counts(session, rule.id)) for rule in rules]


def get_rule(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        rule = _rule(session, name)
        return describe_rule(rule, _counts(session, rule.id))


def delete_rule(rt: Runtime, name: str) -> None:
    """Delete the rule with its cursor and its deliveries (a job sending one finds the rule gone and stops)."""
    with rt.db.session() as session:
        rule = _rule(session, name)
        session.execute(delete(NotificationDelivery).where(NotificationDelivery.reader == rule.id))
        session.execute(delete(NotificationCursor).where(NotificationCursor.reader == rule.id))
        session.delete(rule)


def send_test(rt: Runtime, name: str) -> dict[str, Any]:
    """Queue a test notification to the rule's target; answers its delivery."""
    with rt.transaction() as (session, outbox):
        rule = _rule(session, name)
        delivery_id = add_delivery(session, rule.id, sample_event(rt, rule.name, utcnow()), TEST_TYPE)
        outbox.add(Kind.NOTIFY, rule.id, DEFAULT_QUEUE, timeout_seconds=JOB_TIMEOUT)
        delivery = session.get(NotificationDelivery, delivery_id)
        assert delivery is not None
        return describe_delivery(delivery)


def list_deliveries(rt: Runtime, name: str | None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest deliveries of the rule `name`, or of the commit statuses when `name` is None."""
    with rt.db.reader() as session:
        reader = COMMIT_STATUSES if name is None else _rule(session, name).id
        rows = session.scalars(
            select(NotificationDelivery)
            .where(NotificationDelivery.reader == reader)
            .order_by(NotificationDelivery.id.desc())
            .limit(limit)
        )
        return [describe_delivery(row) for row in rows]


def describe_rule(rule: NotificationRule, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "name": rule.name,
        "eventTypeIds": list(rule.event_type_ids),
        "resources": rule.resources,
        "target": rule.target,
        "createdAt": iso(rule.created_at),
        "deliveries": counts,
    }


def describe_delivery(delivery: NotificationDelivery) -> dict[str, Any]:
    return {
        "deliveryId": delivery.id,
        "eventType": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastError": delivery.last_error,
        "createdAt": iso(delivery.created_at),
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "deliveredAt": iso(delivery.delivered_at),
        "event": delivery.event,
    }


def _counts(session: Session, reader: str) -> dict[str, int]:
    statuses = session.scalars(select(NotificationDelivery.status).where(NotificationDelivery.reader == reader))
    return dict(Counter(statuses))


def _find(session: Session, name: str) -> NotificationRule | None:
    return session.scalars(select(NotificationRule).where(NotificationRule.name == name)).one_or_none()


def _rule(session: Session, name: str) -> NotificationRule:
    rule = _find(session, name)
    if rule is None:
        raise NotFound(f"no notification rule named {name!r}")
    return rule
