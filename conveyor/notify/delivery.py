"""Sending a reader's deliveries, from a job: never in a request, never inside a transaction of the engines.

`work(rt, reader)` is the whole job: fan out the new events (`readers.fan_out`), then send what is due, and again
while either found something (a bounded number of rounds). Sending goes in delivery id order, one at a time:

1. claim the reader's first unfinished delivery in its own transaction: it must be Pending and due, and becomes
   Sending with one more attempt counted. Two workers never both claim it (the row is locked, and the second finds
   it Sending), so an event goes out to a target once.
2. send it with no transaction open; a target's failure never reaches the pipeline, build or deployment.
3. record how it went: Delivered, Skipped (a commit status with no GitHub commit), Pending again with the time of
   the next attempt (`engine.after_failure`), or Failed; the error is stored without secrets.

A failed attempt ends the pass: the deliveries after it wait for its retry, so the reader's events stay in order.
The scheduler wakes the reader again when the retry is due (`conveyor.notify.wake`).

A worker that dies while sending leaves its delivery Sending; after `STALE_SENDING` it is taken as failed and
tried again — the one case in which a target may receive an event twice (`X-Conveyor-Delivery` tells it so).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from conveyor.db.models import utcnow
from conveyor.db.notify_models import NotificationDelivery, NotificationRule
from conveyor.notify import readers
from conveyor.notify.commit_statuses import COMMIT_STATUSES, post_commit_statuses
from conveyor.notify.engine import DeliveryStatus, after_failure
from conveyor.notify.masking import Masker
from conveyor.notify.targets import DeliveryError, Outgoing, RuleTarget, send
from conveyor.runtime import Runtime

log = logging.getLogger(__name__)
STALE_SENDING = timedelta(minutes=5)
MAX_ROUNDS = 10
MAX_SENDS = 100  # per round: a long backlog is sent by the next jobs
WORK_SECONDS = 300  # no send starts later in a job (its queue timeout, wake.JOB_TIMEOUT, is 900 s)


def work(rt: Runtime, reader: str) -> None:
    """The job of one reader: fan out and send until nothing is left to do (or its rounds or time run out)."""
    deadline = time.monotonic() + WORK_SECONDS
    for _ in range(MAX_ROUNDS):
        written = readers.fan_out(rt, reader)
        sent = send_due(rt, reader, deadline)
        if not written and not sent:
            return


def send_due(rt: Runtime, reader: str, deadline: float | None = None) -> int:
    """Send the reader's due deliveries in order, starting none after `deadline`; returns the attempts made."""
    target = _target(rt, reader)
    if target is None and reader != COMMIT_STATUSES:
        return 0  # the rule was deleted
    attempts = 0
    while attempts < MAX_SENDS and (deadline is None or time.monotonic() < deadline):
        outgoing = claim_next(rt, reader)
        if outgoing is None:
            break
        attempts += 1
        if not _attempt(rt, reader, target, outgoing):
            break
    return attempts


@dataclass(frozen=True)
class _Claimed:
    outgoing: Outgoing
    attempts: int


def claim_next(rt: Runtime, reader: str) -> _Claimed | None:
    """Take the reader's first unfinished delivery if it is due (see step 1 of the module's contract)."""
    now = utcnow()
    with rt.db.session() as session:
        delivery = session.scalars(
            select(NotificationDelivery)
            .where(
                NotificationDelivery.reader == reader,
                NotificationDelivery.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
            )
            .order_by(NotificationDelivery.id)
            .limit(1)
            .with_for_update()
        ).first()
        if delivery is None:
            return None
        if delivery.status == DeliveryStatus.SENDING.value:
            if delivery.claimed_at is not None and now - delivery.claimed_at < STALE_SENDING:
                return None  # another worker is sending it
            delivery.last_error = "the worker sending it stopped before it said how the attempt went"
        elif delivery.next_attempt_at is not None and delivery.next_attempt_at > now:
            return None
        delivery.status = DeliveryStatus.SENDING.value
        delivery.attempts += 1
        delivery.claimed_at = delivery.updated_at = now
        outgoing = Outgoing(delivery.id, delivery.event_type, dict(delivery.event))
        return _Claimed(outgoing, delivery.attempts)


def _attempt(rt: Runtime, reader: str, target: RuleTarget | None, claimed: _Claimed) -> bool:
    """Send one claimed delivery and record the outcome; False when the attempt failed."""
    try:
        if target is None:
            status = DeliveryStatus.DELIVERED if post_commit_statuses(rt, claimed.outgoing) else DeliveryStatus.SKIPPED
        else:
            send(rt.settings, target, claimed.outgoing)
            status = DeliveryStatus.DELIVERED
    except DeliveryError as exc:
        log.warning("delivery %d to %s, attempt %d: %s", claimed.outgoing.delivery_id, reader, claimed.attempts, exc)
        _record_failure(rt, claimed, exc)
        return False
    except Exception as exc:  # noqa: BLE001 - a client library's surprise: recorded as a failure, not left Sending
        masker = target.masker(rt.settings) if target else Masker([rt.settings.github_token])
        message = masker(f"{type(exc).__name__}: {exc}")
        log.warning(
            "delivery %d to %s, attempt %d failed unexpectedly: %s",
            claimed.outgoing.delivery_id,
            reader,
            claimed.attempts,
            message,
        )
        _record_failure(rt, claimed, DeliveryError(message, True))
        return False
    _record(rt, claimed.outgoing.delivery_id, status)
    return True


def _record(rt: Runtime, delivery_id: int, status: DeliveryStatus) -> None:
    with rt.db.session() as session:
        delivery = session.get(NotificationDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return
        now = utcnow()
        delivery.status, delivery.updated_at, delivery.next_attempt_at = status.value, now, None
        if status is DeliveryStatus.DELIVERED:
            delivery.delivered_at = now


def _record_failure(rt: Runtime, claimed: _Claimed, error: DeliveryError) -> None:
    settings = rt.settings
    with rt.db.session() as session:
        delivery = session.get(NotificationDelivery, claimed.outgoing.delivery_id, with_for_update=True)
        if delivery is None:
            return
        now = utcnow()
        outcome = after_failure(
            delivery.attempts, settings.notify_max_attempts, error.retryable, settings.notify_backoff_seconds, now
        )
        delivery.status, delivery.next_attempt_at = outcome.status.value, outcome.retry_at
        delivery.last_error, delivery.updated_at = error.message, now


def _target(rt: Runtime, reader: str) -> RuleTarget | None:
    if reader == COMMIT_STATUSES:
        return None
    with rt.db.reader() as session:
        rule = session.get(NotificationRule, reader)
        if rule is None:
            return None
        return RuleTarget(rule.target_type, dict(rule.target), dict(rule.secrets))
