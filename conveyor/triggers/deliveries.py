"""The webhook deliveries Conveyor received, newest first: what each started, or why it started nothing.

GitHub shows a hook's recent deliveries only to the repository's admins, and only for a few days; this is Conveyor's
side of the same record, kept for good: the answer a delivery got (`detail`), the executions it started, and for a
push decided later from its changed files, how that turned out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from conveyor.db import newest_first
from conveyor.db.models import WebhookDelivery
from conveyor.errors import InvalidRequest, NotFound
from conveyor.paging import Page, page_of, read_id_token
from conveyor.runtime import Runtime
from conveyor.timefmt import iso
from conveyor.triggers.outcomes import OUTCOMES


def list_deliveries(
    rt: Runtime, repository: str | None = None, outcome: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    return page_of_deliveries(rt, repository, outcome, limit).items


def page_of_deliveries(
    rt: Runtime,
    repository: str | None = None,
    outcome: str | None = None,
    limit: int = 50,
    next_token: str | None = None,
) -> Page:
    """The newest deliveries, of one repository (`owner/name`, in any case) or with one outcome when asked, `limit`
    of them, from where `next_token` left off."""
    if outcome is not None and outcome not in OUTCOMES:
        raise InvalidRequest(f"outcome {outcome!r} must be one of {', '.join(OUTCOMES)}")
    after = read_id_token(next_token, "deliveries")
    query = newest_first(select(WebhookDelivery), [WebhookDelivery.id], after, limit)
    if repository:  # GitHub's names are case-insensitive: `Acme/App` is `acme/app`
        query = query.where(func.lower(WebhookDelivery.repository) == repository.lower())
    if outcome:
        query = query.where(WebhookDelivery.outcome == outcome)
    with rt.db.reader() as session:
        found = list(session.scalars(query))
    return page_of(found, limit, "deliveries", lambda row: [row.id], describe_delivery)


def get_delivery(rt: Runtime, delivery_id: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).first()
        if row is None:
            raise NotFound(f"no webhook delivery {delivery_id}")
        return describe_delivery(row)


def describe_delivery(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "deliveryId": row.delivery_id,
        "event": row.event,
        "repository": row.repository,
        "ref": row.ref,
        "headCommit": row.head_commit,
        "outcome": row.outcome,
        "detail": row.detail or "",
        "executionIds": list(row.execution_ids),
        "receivedAt": iso(row.received_at),
    }
