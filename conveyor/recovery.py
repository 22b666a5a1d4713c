"""Recovery: work whose queue job vanished is sent again; work that cannot finish is given up, with a reason.

The reconciler runs in the scheduler process every few seconds. For each dispatch not yet done:

* pending, and its RQ job is gone (never enqueued because Redis was down, or Redis lost it): send it again;
* running, and no heartbeat for `lease_seconds` (the worker was killed or its machine died), or, for work done in
  one transaction (`conveyor.dispatch.ONE_TRANSACTION`), still pending while its job has been running for longer
  than that: start the next attempt, up to `max_attempts`; then give it up.

It also ends what waited too long: builds queued past their queued timeout, and actions waiting for an answer (a
manual approval) past their deadline.

A job that raises takes the same road through `fail_attempt`. Giving up ends the subject so that nothing stays
InProgress forever: an execution fails, an action fails, a build becomes FAULT, a Lambda deployment fails (and
rolls back as its configuration says) — each with the reason. A Lambda deployment's job started again resumes from
the progress it recorded.

Each pass also times out what waits on something outside Conveyor: builds queued past their queued timeout, and
Lambda actions whose function did not report on its job within 20 minutes (`job_reports.expire_jobs`), and a
host's part of a deployment, or a released host's clean-up, that its agent did not take up in time
(`host_recovery.expire_unclaimed`), and the waits of blue/green deployments whose time ran out
(`blue_green_waits.expire_waits`: Ready ones are Stopped). A host's work lost with its agent is given up at once,
without another attempt: only that host's agent could take it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from conveyor.build import batches
from conveyor.build import service as builds
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.chatops import service as chat
from conveyor.db import lock
from conveyor.db.deploy_models import Deployment
from conveyor.db.models import Build, Dispatch, utcnow
from conveyor.deploy import blue_green_waits, host_recovery, traffic_deployments
from conveyor.dispatch import ONE_TRANSACTION, DispatchState, JobInspector, Kind, next_attempt, unfinished
from conveyor.pipeline import condition_checks, control, job_reports
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime
from conveyor.triggers import service as triggers

log = logging.getLogger(__name__)
SEND_GRACE = timedelta(seconds=10)  # a pending dispatch younger than this may still be on its way to the queue


DONE_KEPT = timedelta(days=7)
_FORGET_AT_ONCE = 1000  # a pass deletes no more than this: a first pass over a year of dispatches stays short


@dataclass
class ReconcileReport:
    resent: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    queue_timed_out: list[str] = field(default_factory=list)
    actions_timed_out: list[str] = field(default_factory=list)
    jobs_timed_out: list[str] = field(default_factory=list)  # Lambda actions whose job was never reported on
    hosts_unreachable: list[str] = field(default_factory=list)  # host work no agent took in time
    waits_expired: list[str] = field(default_factory=list)  # blue/green deployments whose wait ran out
    forgotten: int = 0  # dispatches done for longer than DONE_KEPT, deleted


def reconcile(rt: Runtime, inspector: JobInspector, now: datetime | None = None) -> ReconcileReport:
    """One pass over the unfinished dispatches."""
    now = now or utcnow()
    lease = timedelta(seconds=rt.settings.lease_seconds)
    report = ReconcileReport()
    abandoned: list[tuple[str, str, str]] = []
    with rt.transaction() as (session, outbox):
        query = select(Dispatch).where(unfinished()).with_for_update(skip_locked=True)
        for dispatch in session.scalars(query):
            if _unsent(inspector, dispatch, now):
                outbox.pending.append(dispatch)
                report.resent.append(dispatch.id)
                continue
            reason = _lost(inspector, dispatch, now, lease)
            if reason is None:
                continue
            if next_attempt(dispatch, reason, _max_attempts(rt, dispatch)):
                outbox.pending.append(dispatch)
                report.retried.append(dispatch.id)
            else:
                abandoned.append(
                    (dispatch.kind, dispatch.subject_id, f"{reason}; gave up after {dispatch.attempt} attempts")
                )
                report.given_up.append(dispatch.id)
    for kind, subject_id, reason in abandoned:
        give_up(rt, Kind(kind), subject_id, reason)
    report.queue_timed_out = expire_queued_builds(rt, now)
    report.actions_timed_out = control.expire_deadlines(rt, now)
    report.jobs_timed_out = job_reports.expire_jobs(rt, now)
    report.hosts_unreachable = host_recovery.expire_unclaimed(rt, now)
    report.forgotten = forget_done(rt, now)
    report.waits_expired = blue_green_waits.expire_waits(rt, now)
    return report


def _unsent(inspector: JobInspector, dispatch: Dispatch, now: datetime) -> bool:
    """Pending, and its queue job is gone: never enqueued (Redis was down) or lost with Redis."""
    if dispatch.state != DispatchState.PENDING.value or now - dispatch.created_at <= SEND_GRACE:
        return False
    return not inspector.job_alive(dispatch.job_id)


def _lost(inspector: JobInspector, dispatch: Dispatch, now: datetime, lease: timedelta) -> str | None:
    """Why the attempt under way is lost, if it is.

    A running attempt is lost when its heartbeats stopped. A pending dispatch of a `ONE_TRANSACTION` kind is lost
    when its job began longer than a lease ago: its work is one short transaction that never committed, so its
    worker died in it (the queue job stays "started" until its timeout). Its next attempt is safe even were that
    transaction only slow: it would find its attempt superseded and do nothing.
    """
    if dispatch.state == DispatchState.RUNNING.value:
        if dispatch.heartbeat_at is not None and now - dispatch.heartbeat_at <= lease:
            return None
        return f"the worker running attempt {dispatch.attempt} stopped sending heartbeats"
    if dispatch.kind not in ONE_TRANSACTION or now - dispatch.created_at <= lease:
        return None
    started_at = inspector.job_started_at(dispatch.job_id)
    if started_at is None or now - started_at <= lease:
        return None
    return f"the worker running attempt {dispatch.attempt} stopped before its transaction committed"


_SINGLE_ATTEMPT = frozenset({Kind.DEPLOY_HOST.value, Kind.CHAT_COMMAND.value})


def _max_attempts(rt: Runtime, dispatch: Dispatch) -> int:
    """A host's agent that died mid-deployment gets no second attempt: only that agent could take it. Nor does a
    chat command: it may have started what it asked for, and must not start it twice."""
    return 1 if dispatch.kind in _SINGLE_ATTEMPT else rt.settings.max_attempts


def fail_attempt(rt: Runtime, dispatch_id: str, attempt: int, reason: str) -> None:
    """A job raised: try again while attempts remain, then give the work up."""
    abandoned: tuple[Kind, str] | None = None
    with rt.transaction() as (session, outbox):
        dispatch = lock(session, Dispatch, dispatch_id)
        if dispatch is None or dispatch.attempt != attempt or dispatch.state == DispatchState.DONE.value:
            return
        if next_attempt(dispatch, reason, _max_attempts(rt, dispatch)):
            outbox.pending.append(dispatch)
        else:
            abandoned = (Kind(dispatch.kind), dispatch.subject_id)
    if abandoned is not None:
        give_up(rt, abandoned[0], abandoned[1], reason)


def give_up(rt: Runtime, kind: Kind, subject_id: str, reason: str) -> None:
    GIVE_UP[kind](rt, subject_id, reason)


def _give_up_advance(rt: Runtime, execution_id: str, reason: str) -> None:
    pipelines.fail_execution(rt, execution_id, f"Conveyor could not advance this execution: {reason}")


def _give_up_action(rt: Runtime, action_execution_id: str, reason: str) -> None:
    outcome = ActionOutcome(
        ActionStatus.FAILED, summary=f"Conveyor could not run the action: {reason}", error_code="SystemUnavailable"
    )
    pipelines.complete_action(rt, action_execution_id, outcome)


def _give_up_report(rt: Runtime, deployment_id: str, reason: str) -> None:
    """The deployment's end could not be told: its action fails rather than wait forever."""
    with rt.db.reader() as session:
        action_id = session.scalar(select(Deployment.action_execution_id).where(Deployment.id == deployment_id))
    _fail_untold(rt, action_id, f"deployment {deployment_id}", reason)


def _give_up_condition(rt: Runtime, subject: str, reason: str) -> None:
    record = {"summary": f"Conveyor could not check the condition: {reason}", "rules": []}
    condition_checks.complete_condition(rt, subject, False, record)


def _give_up_build(rt: Runtime, build_id: str, reason: str) -> None:
    """The build becomes FAULT; one that had ended already (its job failed while reporting) is reported again."""
    build = builds.give_up(rt, build_id, reason)
    if build is None:
        with rt.db.reader() as session:
            build = session.get(Build, build_id)
    if build is not None:
        pipelines.report_build(rt, build)


def _give_up_build_report(rt: Runtime, build_id: str, reason: str) -> None:
    """The build's end could not be told: its action fails rather than wait forever."""
    with rt.db.reader() as session:
        action_id = session.scalar(select(Build.action_execution_id).where(Build.id == build_id))
    _fail_untold(rt, action_id, f"build {build_id}", reason)


def _fail_untold(rt: Runtime, action_id: str | None, work: str, reason: str) -> None:
    """Fail the action whose work's end could not be told to it (none: the work was not an action's)."""
    if action_id is not None:
        outcome = ActionOutcome(
            ActionStatus.FAILED,
            summary=f"Conveyor could not read how {work} ended: {reason}",
            error_code="SystemUnavailable",
        )
        pipelines.complete_action(rt, action_id, outcome)


def _give_up_batch(rt: Runtime, batch_id: str, reason: str) -> None:
    batch = batches.fail_batch(rt, batch_id, f"Conveyor could not start the batch's builds: {reason}")
    if batch is not None:
        pipelines.report_batch(rt, batch)


def forget_done(rt: Runtime, now: datetime | None = None) -> int:
    """Delete the dispatches done for longer than `DONE_KEPT` (at most `_FORGET_AT_ONCE` a pass): a dispatch is the
    plumbing of one piece of work, whose record is the execution, build or deployment it was for; kept a week for
    whoever looks into why a job was retried or given up (`last_error`)."""
    cutoff = (now or utcnow()) - DONE_KEPT
    with rt.db.session() as session:
        oldest = select(Dispatch.id).where(Dispatch.finished_at < cutoff).limit(_FORGET_AT_ONCE)
        doomed = delete(Dispatch).where(Dispatch.id.in_(oldest.scalar_subquery()))
        return session.connection().execute(doomed).rowcount or 0


def expire_queued_builds(rt: Runtime, now: datetime | None = None) -> list[str]:
    """Builds that waited in the queue past their queued timeout end TIMED_OUT (CodeBuild's rule)."""
    now = now or utcnow()
    with rt.db.reader() as session:
        queued = session.execute(
            select(Build.id, Build.created_at, Build.queued_timeout_minutes).where(
                Build.status == BuildStatus.IN_PROGRESS.value, Build.current_phase == PhaseType.QUEUED.value
            )
        ).all()
    expired = [build_id for build_id, created, minutes in queued if now - created > timedelta(minutes=minutes)]
    for build_id in expired:
        build = builds.time_out_queued(rt, build_id)
        if build is not None:
            pipelines.report_build(rt, build)
    return expired


GIVE_UP: dict[Kind, Callable[[Runtime, str, str], None]] = {
    Kind.ADVANCE: _give_up_advance,
    Kind.ACTION: _give_up_action,
    Kind.CONDITION: _give_up_condition,
    Kind.APPROVAL_NOTICE: lambda _rt, subject, reason: log.warning("approval notice %s given up: %s", subject, reason),
    Kind.BUILD: _give_up_build,
    Kind.BUILD_ENDED: _give_up_build_report,
    Kind.BATCH: _give_up_batch,
    Kind.CHANGED_FILES: triggers.give_up_deferred,
    # the scheduler queues the next look after `poll_interval`
    Kind.POLL_SOURCES: lambda _rt, _subject, reason: log.warning("a look at the polled sources given up: %s", reason),
    Kind.DEPLOY_HOST: host_recovery.give_up_host,
    Kind.RETIRE_HOST: lambda _rt, subject, reason: log.warning("releasing host %s given up: %s", subject, reason),
    Kind.DEPLOY_ROLLOUT: traffic_deployments.give_up,
    Kind.DEPLOYMENT_ENDED: _give_up_report,
    # a reader's deliveries keep their own state: the scheduler wakes the reader again
    Kind.NOTIFY: lambda _rt, subject, reason: log.warning("notifications of %s given up: %s", subject, reason),
    Kind.CHAT_COMMAND: chat.give_up,
}
