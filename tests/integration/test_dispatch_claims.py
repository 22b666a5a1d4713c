"""A dispatch's attempt is claimed, kept and finished by one conditional statement each: only the current attempt of
work not yet done moves, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from conveyor.db.models import Dispatch, utcnow
from conveyor.dispatch import DispatchState, Kind, claim, finish, heartbeat, next_attempt
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime


def queued(rt: Runtime, subject: str = "execution-1") -> Dispatch:
    with rt.transaction() as (_session, outbox):
        return outbox.add(Kind.ADVANCE, subject, PIPELINE_QUEUE, timeout_seconds=120)


def stored(rt: Runtime, dispatch_id: str) -> Dispatch:
    with rt.db.reader() as session:
        return session.get_one(Dispatch, dispatch_id)


def retried(rt: Runtime, dispatch_id: str) -> None:
    """The reconciler moved the dispatch on to its next attempt."""
    with rt.db.session() as session:
        assert next_attempt(session.get_one(Dispatch, dispatch_id), "lost", max_attempts=3)


def test_a_claim_takes_the_attempt_and_hands_back_what_the_job_needs(rt: Runtime) -> None:
    dispatch = queued(rt, "execution-7")
    before = utcnow()

    claimed = claim(rt.db, dispatch.id, 1)

    assert claimed is not None
    assert (claimed.kind, claimed.subject_id, claimed.attempt) == (Kind.ADVANCE.value, "execution-7", 1)
    row = stored(rt, dispatch.id)
    assert row.state == DispatchState.RUNNING.value
    assert row.started_at is not None
    assert row.started_at >= before - timedelta(seconds=1)
    assert row.heartbeat_at == row.started_at
    assert claimed.started_at == row.started_at


def test_a_superseded_attempt_claims_nothing_and_changes_nothing(rt: Runtime) -> None:
    dispatch = queued(rt)
    retried(rt, dispatch.id)

    assert claim(rt.db, dispatch.id, 1) is None
    row = stored(rt, dispatch.id)
    assert (row.state, row.attempt, row.started_at) == (DispatchState.PENDING.value, 2, None)
    assert claim(rt.db, dispatch.id, 2) is not None


def test_done_work_is_not_claimed_again(rt: Runtime) -> None:
    dispatch = queued(rt)
    assert claim(rt.db, dispatch.id, 1) is not None
    finish(rt.db, dispatch.id, 1)

    assert claim(rt.db, dispatch.id, 1) is None
    row = stored(rt, dispatch.id)
    assert row.state == DispatchState.DONE.value
    assert row.finished_at is not None


def test_a_missing_dispatch_claims_nothing(rt: Runtime) -> None:
    assert claim(rt.db, "00000000-0000-0000-0000-00000000abcd", 1) is None


def test_a_heartbeat_holds_only_for_the_running_attempt(rt: Runtime) -> None:
    dispatch = queued(rt)
    assert not heartbeat(rt.db, dispatch.id, 1)  # not claimed yet
    assert claim(rt.db, dispatch.id, 1) is not None
    started = stored(rt, dispatch.id).heartbeat_at
    assert started is not None

    assert heartbeat(rt.db, dispatch.id, 1)
    renewed = stored(rt, dispatch.id).heartbeat_at
    assert renewed is not None
    assert renewed >= started

    retried(rt, dispatch.id)
    assert not heartbeat(rt.db, dispatch.id, 1)


def test_finishing_a_superseded_attempt_leaves_the_new_one_alone(rt: Runtime) -> None:
    dispatch = queued(rt)
    assert claim(rt.db, dispatch.id, 1) is not None
    retried(rt, dispatch.id)

    finish(rt.db, dispatch.id, 1)

    row = stored(rt, dispatch.id)
    assert (row.state, row.attempt, row.finished_at) == (DispatchState.PENDING.value, 2, None)
