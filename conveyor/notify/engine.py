"""The decisions of notifications and commit statuses, with no I/O: how far a reader may move its cursor, when a
failed delivery is tried again, and which commit status a pipeline change posts.

**Cursors over ids that commit out of order.** Event ids come from a sequence when the row is inserted, but the
transactions that insert them commit in any order: on PostgreSQL, event 11 may be visible before event 10. A reader
that jumped to 11 would never see 10. So a reader handles events only up to the first gap in the ids and moves its
cursor no further; the next pass sees the gap filled. A gap still open `GAP_GRACE` after the event that follows it
was written is a transaction that rolled back (its id is never used) and is stepped over. SQLite writes one
transaction at a time, so there ids never arrive out of order.

**Retries.** A delivery that fails is tried again after `backoff * 2^(attempts - 1)` (at most `MAX_RETRY_DELAY`),
up to `max_attempts` attempts in all; a failure that another attempt cannot mend (a 4xx answer other than 408 and
429, a Slack API error other than `ratelimited`) is given up at once. Deliveries of one reader go out in event
order: one waiting for its retry holds back those after it, so a receiver never sees a later change before an
earlier one (a commit status never goes back from success to pending).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from conveyor.ids import short_id
from conveyor.notify.catalog import ACTION_CHANGE, EXECUTION_CHANGE

GAP_GRACE = timedelta(seconds=60)
MAX_RETRY_DELAY = timedelta(minutes=5)


class DeliveryStatus(str, Enum):
    PENDING = "Pending"  # waiting for its first attempt, or for the next one
    SENDING = "Sending"  # an attempt is under way
    DELIVERED = "Delivered"
    SKIPPED = "Skipped"  # nothing to send (a commit status for an execution without a GitHub commit)
    FAILED = "Failed"  # given up: attempts ran out, or the target refused it for good


def settled_mark(after: int, written: Sequence[tuple[int, datetime]], now: datetime) -> int:
    """The id a cursor at `after` may move to, given the events written after it (id, time), in id order."""
    mark = after
    for event_id, created_at in written:
        # a cursor that has seen no event yet (0) cannot tell where the ids begin: the first one it sees is the start
        if mark and event_id != mark + 1 and now - created_at <= GAP_GRACE:
            break
        mark = event_id
    return mark


@dataclass(frozen=True)
class AttemptOutcome:
    status: DeliveryStatus
    retry_at: datetime | None = None


def after_failure(
    attempts: int, max_attempts: int, retryable: bool, backoff_seconds: float, now: datetime
) -> AttemptOutcome:
    """What becomes of a delivery whose attempt number `attempts` failed."""
    if not retryable or attempts >= max_attempts:
        return AttemptOutcome(DeliveryStatus.FAILED)
    delay = min(timedelta(seconds=backoff_seconds * 2 ** (attempts - 1)), MAX_RETRY_DELAY)
    return AttemptOutcome(DeliveryStatus.PENDING, now + delay)


def retryable_http_status(status: int) -> bool:
    """Whether another attempt may get a different answer."""
    return status >= 500 or status in (408, 429)


# Commit statuses: a pipeline execution's start and end, on each GitHub commit it runs.

COMMIT_STATES = {
    "STARTED": "pending",
    "RESUMED": "pending",
    "SUCCEEDED": "success",
    "FAILED": "failure",
    "STOPPED": "error",
    "SUPERSEDED": "error",
    "CANCELED": "error",
}
_DESCRIPTIONS = {
    "STARTED": "started",
    "RESUMED": "resumed",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "STOPPED": "was stopped",
    "SUPERSEDED": "was superseded by a newer execution",
    "CANCELED": "was canceled",
}
MAX_DESCRIPTION = 140  # GitHub's limit


def tells_commit_status(detail_type: str, state: str, category: str | None) -> bool:
    """Whether a pipeline change may post a commit status: an execution's start or end, or a source action that
    succeeded (the commit of a start that named none is known only then, and gets its pending status then)."""
    if detail_type == EXECUTION_CHANGE:
        return state in COMMIT_STATES
    return detail_type == ACTION_CHANGE and state == "SUCCEEDED" and category == "Source"


def commit_status_description(pipeline: str, execution_id: str, state: str, summary: str | None = None) -> str:
    text = f"{pipeline}: execution {short_id(execution_id)} {_DESCRIPTIONS.get(state, 'started')}"
    if summary and state in ("FAILED", "STOPPED"):
        text = f"{text}: {summary}"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
