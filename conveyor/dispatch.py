"""Work handed to queues, and the interface through which the core hands it over.

A state change that needs work done writes a `Dispatch` row in the same transaction (`Outbox.add`). After the
commit, the rows are handed to a `Dispatcher`, which enqueues one queue job per row carrying its id and attempt.
The RQ implementation lives in `jobs.dispatch`: the core never imports RQ.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol, cast

from sqlalchemy import Table, insert, update
from sqlalchemy.orm import Session

from conveyor.db import Database, lock
from conveyor.db.models import Dispatch, new_id, utcnow


class DispatchState(str, Enum):
    PENDING = "pending"  # written; enqueued, or about to be
    RUNNING = "running"  # claimed by a worker, which sends heartbeats
    DONE = "done"


class Kind(str, Enum):
    """What a dispatch asks for; each kind has one job function in `jobs/`."""

    ADVANCE = "pipeline.advance"  # subject: a pipeline execution id
    CONDITION = "stage.condition"  # subject: "<execution id>|<stage>|<beforeEntry or onSuccess>"
    APPROVAL_NOTICE = "approval.notice"  # subject: an approval's action execution id (publish to its SNS topic)
    DEPLOYMENT_ENDED = "deploy.ended"  # subject: a deployment id (tell the pipeline action that started it)
    ACTION = "action.run"  # subject: an action execution id (its provider's runner does the work)
    BUILD = "build.run"  # subject: a build id
    BUILD_ENDED = "build.ended"  # subject: a pipeline action's build id (tell the action how the build ended)
    BATCH = "build.batch"  # subject: a build batch id (reads its batch section and starts its builds)
    DEPLOY_HOST = "deploy.host"  # subject: "<deployment id>|<host name>" (on the host's own queue, for its agent)
    RETIRE_HOST = "deploy.retire"  # subject: "<deployment id>|<host name>": a released original host removes
    # the group's revision (blue/green TERMINATE; on the host's own queue)
    NOTIFY = "notify.send"  # subject: a reader of the events (a notification rule's id, or "commit-statuses")
    DEPLOY_ROLLOUT = "deploy.rollout"  # subject: a Lambda or ECS deployment id (its hooks and traffic shifts)
    CHAT_COMMAND = "chat.command"  # subject: a chat command id (carry it out, answer in chat)
    CHANGED_FILES = (
        "push.changed_files"  # subject: a webhook delivery id (its push or pull request needs the changed files)
    )


class Dispatcher(Protocol):
    def send(self, dispatches: list[Dispatch]) -> None:
        """Enqueue one job per dispatch; must not raise for a queue outage (the reconciler re-sends)."""


class JobInspector(Protocol):
    def job_alive(self, job_id: str) -> bool:
        """Whether the queue still holds this job, waiting or running."""


_INSERT = insert(cast(Table, Dispatch.__table__))


class Outbox:
    """Collects the dispatches of one transaction, to be sent once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: list[Dispatch] = []

    def add(self, kind: Kind, subject_id: str, queue: str, timeout_seconds: int = 600) -> Dispatch:
        values = {
            "id": new_id(),
            "kind": kind.value,
            "subject_id": subject_id,
            "queue": queue,
            "timeout_seconds": timeout_seconds,
            "state": DispatchState.PENDING.value,
            "attempt": 1,
            "created_at": utcnow(),
        }
        self.session.connection().execute(_INSERT, values)  # a prebuilt Core INSERT: this is on the webhook's path
        dispatch = Dispatch(**values)  # a detached copy, for the dispatcher
        self.pending.append(dispatch)
        return dispatch


def claim(db: Database, dispatch_id: str, attempt: int) -> Dispatch | None:
    """Take a dispatch for this attempt; None when it is done or another attempt superseded this one."""
    with db.session() as session:
        dispatch = lock(session, Dispatch, dispatch_id)
        if dispatch is None or dispatch.state == DispatchState.DONE.value or dispatch.attempt != attempt:
            return None
        now = utcnow()
        dispatch.state = DispatchState.RUNNING.value
        dispatch.started_at = now
        dispatch.heartbeat_at = now
        return dispatch


def heartbeat(db: Database, dispatch_id: str, attempt: int) -> bool:
    """Renew the lease of a running attempt; False when the attempt no longer holds it."""
    with db.session() as session:
        result = session.execute(
            update(Dispatch)
            .where(
                Dispatch.id == dispatch_id, Dispatch.attempt == attempt, Dispatch.state == DispatchState.RUNNING.value
            )
            .values(heartbeat_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0) == 1)


def finish(db: Database, dispatch_id: str, attempt: int) -> None:
    with db.session() as session:
        dispatch = lock(session, Dispatch, dispatch_id)
        if dispatch is not None and dispatch.attempt == attempt:
            dispatch.state = DispatchState.DONE.value
            dispatch.finished_at = utcnow()


def next_attempt(dispatch: Dispatch, reason: str, max_attempts: int) -> bool:
    """Move a failed or lost attempt on: True if another attempt is due, False if the dispatch is given up."""
    dispatch.last_error = reason
    if dispatch.attempt < max_attempts:
        dispatch.attempt += 1
        dispatch.state = DispatchState.PENDING.value
        dispatch.started_at = None
        dispatch.heartbeat_at = None
        return True
    dispatch.state = DispatchState.DONE.value
    dispatch.finished_at = utcnow()
    return False
