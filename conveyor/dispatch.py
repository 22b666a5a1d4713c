"""Work handed to queues, and the interface through which the core hands it over.

A state change that needs work done writes a `Dispatch` row in the same transaction (`Outbox.add`). After the
commit, the rows are handed to a `Dispatcher`, which enqueues one queue job per row carrying its id and attempt.
The RQ implementation lives in `jobs.dispatch`: the core never imports RQ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol, cast

from sqlalchemy import ColumnElement, Table, bindparam, insert, update
from sqlalchemy.orm import Session

from conveyor.db import Database
from conveyor.db.models import Dispatch, utcnow
from conveyor.ids import new_id


class DispatchState(str, Enum):
    PENDING = "pending"  # written; enqueued, or about to be
    RUNNING = "running"  # claimed by a worker, which sends heartbeats
    DONE = "done"


def unfinished() -> ColumnElement[bool]:
    """The dispatches not done yet: `state IN ('pending', 'running')`, which the index on `state` serves. Said as
    `state != 'done'` it is not served by an index on SQLite or PostgreSQL: every pass of the reconciler and every
    look for notifications read the whole table, which keeps every dispatch ever made."""
    return Dispatch.state.in_((DispatchState.PENDING.value, DispatchState.RUNNING.value))


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
    POLL_SOURCES = "sources.poll"  # subject: "sources" (look at every source that polls for changes)


class Enqueueable(Protocol):
    """What a dispatcher reads of a dispatch: a `Dispatch` row, or the `Written` copy an outbox keeps."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def queue(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def timeout_seconds(self) -> int: ...
    @property
    def job_id(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Written:
    """A dispatch row just written by an outbox, as the dispatcher needs it (a plain object: an ORM instance per
    row costs more than the row's INSERT)."""

    id: str
    kind: str
    subject_id: str
    queue: str
    timeout_seconds: int
    attempt: int = 1

    @property
    def job_id(self) -> str:
        return f"{self.id}-{self.attempt}"


# The kinds whose work is one short transaction. Their jobs claim and finish the dispatch in that transaction (`take`)
# rather than in one of their own on each side, and keep no lease: the dispatch is done exactly when the work
# commits, and a job that raises or dies before then leaves it as it was, pending. (A dead job's dispatch is sent
# again once its job has been running for longer than a lease: see `conveyor.recovery`.)
ONE_TRANSACTION = frozenset({Kind.ADVANCE.value, Kind.BUILD_ENDED.value})


class Dispatcher(Protocol):
    def send(self, dispatches: Sequence[Enqueueable]) -> None:
        """Enqueue one job per dispatch; must not raise for a queue outage (the reconciler re-sends)."""


class JobInspector(Protocol):
    def job_alive(self, job_id: str) -> bool:
        """Whether the queue still holds this job, waiting or running."""

    def job_started_at(self, job_id: str) -> datetime | None:
        """When a worker began this job, if one is running it; None otherwise."""


_DISPATCHES = cast(Table, Dispatch.__table__)
_INSERT = insert(_DISPATCHES)
_THIS_ATTEMPT = (_DISPATCHES.c.id == bindparam("dispatch_id")) & (_DISPATCHES.c.attempt == bindparam("of_attempt"))
# Each change of a dispatch's state is one conditional UPDATE, prebuilt: a claim is the first thing every job does,
# in a build's freshly forked work horse too, where builds fork (whose parent ran these statements once, so they
# come compiled).
_CLAIM = (
    update(_DISPATCHES)
    .where(_THIS_ATTEMPT, _DISPATCHES.c.state != DispatchState.DONE.value)
    .values(state=DispatchState.RUNNING.value, started_at=bindparam("now"), heartbeat_at=bindparam("now"))
    .returning(*_DISPATCHES.c)
)
_HEARTBEAT = (
    update(_DISPATCHES)
    .where(_THIS_ATTEMPT, _DISPATCHES.c.state == DispatchState.RUNNING.value)
    .values(heartbeat_at=bindparam("now"))
)
_FINISH = update(_DISPATCHES).where(_THIS_ATTEMPT).values(state=DispatchState.DONE.value, finished_at=bindparam("now"))
_TAKE = (
    update(_DISPATCHES)
    .where(_THIS_ATTEMPT, _DISPATCHES.c.state != DispatchState.DONE.value)
    .values(state=DispatchState.DONE.value, started_at=bindparam("now"), finished_at=bindparam("now"))
    .returning(_DISPATCHES.c.subject_id)
)


class Outbox:
    """Collects the dispatches of one transaction, to be sent once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.pending: list[Enqueueable] = []

    def add(self, kind: Kind, subject_id: str, queue: str, timeout_seconds: int = 600) -> Written:
        return self.add_many(kind, [subject_id], queue, timeout_seconds)[0]

    def add_many(self, kind: Kind, subject_ids: list[str], queue: str, timeout_seconds: int = 600) -> list[Written]:
        """One dispatch of `kind` per subject, written with one statement (batches of webhook deliveries)."""
        if not subject_ids:
            return []
        written = [Written(new_id(), kind.value, subject_id, queue, timeout_seconds) for subject_id in subject_ids]
        now, pending = utcnow(), DispatchState.PENDING.value
        rows = [
            {
                "id": dispatch.id,
                "kind": dispatch.kind,
                "subject_id": dispatch.subject_id,
                "queue": queue,
                "timeout_seconds": timeout_seconds,
                "state": pending,
                "attempt": dispatch.attempt,
                "created_at": now,
            }
            for dispatch in written
        ]
        self.session.connection().execute(_INSERT, rows)  # a prebuilt Core INSERT: this is on the webhook's path
        self.pending.extend(written)
        return written


def claim(db: Database, dispatch_id: str, attempt: int) -> Dispatch | None:
    """Take a dispatch for this attempt; None when it is done or another attempt superseded this one."""
    with db.session() as session:
        values = {"dispatch_id": dispatch_id, "of_attempt": attempt, "now": utcnow()}
        row = session.connection().execute(_CLAIM, values).first()
        return None if row is None else Dispatch(**row._asdict())  # a detached copy


def heartbeat(db: Database, dispatch_id: str, attempt: int) -> bool:
    """Renew the lease of a running attempt; False when the attempt no longer holds it."""
    with db.session() as session:
        values = {"dispatch_id": dispatch_id, "of_attempt": attempt, "now": utcnow()}
        return session.connection().execute(_HEARTBEAT, values).rowcount == 1


def finish(db: Database, dispatch_id: str, attempt: int) -> None:
    """Mark this attempt's work done (nothing, when another attempt superseded it)."""
    with db.session() as session:
        values = {"dispatch_id": dispatch_id, "of_attempt": attempt, "now": utcnow()}
        session.connection().execute(_FINISH, values)


def take(session: Session, dispatch_id: str, attempt: int) -> str | None:
    """Claim and finish a dispatch of a `ONE_TRANSACTION` kind in the transaction that does its work; returns its
    subject, or None when it is done or another attempt superseded this one (then there is nothing to do)."""
    values = {"dispatch_id": dispatch_id, "of_attempt": attempt, "now": utcnow()}
    return session.connection().execute(_TAKE, values).scalar()


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
