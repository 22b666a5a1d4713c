"""Polling sources for changes (`PollForSourceChanges`), for the sources no push reaches Conveyor from.

Which sources poll: an S3 source unless its `PollForSourceChanges` is `false` (CodePipeline's default for S3 is to
poll: it is how such a pipeline learns of a new object), and a git source (GitHub, Git, CodeStarSourceConnection)
only when it says `true` (Conveyor learns of pushes from webhooks; polling is for a repository whose pushes cannot
reach it, such as one behind a firewall).

Every `poll_interval` seconds the scheduler queues one `sources.poll` job, unless one is queued or running. The job
reads each polled source once — a git branch head by fetching its mirror (which the build that follows then finds
warm), an S3 object's version id (its ETag in a bucket without versions) with HeadObject — and, pipeline by
pipeline in one transaction, compares what it found with what the last look found (`SourcePoll`). A change starts
one execution, trigger `PollForSourceChanges`, with the changed actions' revisions. A revision some execution of the
pipeline already ran since that last look (a push delivered by webhook, a start by hand) starts nothing, so a look
never starts again what a webhook started (a webhook arriving after a look started its commit still starts it: the
webhook's path does not read executions). The first look at a source compares with the revision of the
pipeline's newest execution: a pipeline that never ran starts once with what is there, as CodePipeline starts a
pipeline when it is created. A source that cannot be read keeps its last revision and records why (`error`), and the
other sources are read all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor import aws
from conveyor.db import lock
from conveyor.db.models import Dispatch, Pipeline, PipelineExecution, PipelineVersion, utcnow
from conveyor.db.poll_models import SourcePoll
from conveyor.dispatch import Kind, unfinished
from conveyor.git import GitError
from conveyor.pipeline.actions.git_source import mirrors
from conveyor.pipeline.actions.s3_errors import S3_FAILURES, s3_url
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.definitions import definition_of_version
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.pipeline.starts import start_execution
from conveyor.pipeline.status import TriggerType
from conveyor.queues import DEFAULT_QUEUE
from conveyor.redaction import redact
from conveyor.runtime import Runtime

log = logging.getLogger(__name__)

POLL_SUBJECT = "sources"
JOB_TIMEOUT = 1800  # every polled source read once, one after the other
_RECENT = 50  # executions since the last look searched for a revision already run


@dataclass(frozen=True)
class PolledSource:
    """A polled source action of a pipeline's current version."""

    pipeline_id: int
    pipeline_name: str
    version: int
    action: ActionDeclaration

    @property
    def target(self) -> tuple[str, ...]:
        """What is read, the same for every action that reads the same thing (one read a pass)."""
        configuration = self.action.configuration
        if self.action.type_id.provider == "S3":
            where = (self.action.region or "", self.action.role_arn or "")
            return ("s3", configuration["S3Bucket"], configuration["S3ObjectKey"], *where)
        source = git_source(configuration)
        return ("git", source.url, source.branch, str(configuration.get("OAuthToken") or ""))

    def describe(self) -> str:
        return f"pipeline {self.pipeline_name!r}, source action {self.action.name!r}"


@dataclass(frozen=True)
class Seen:
    """What a look found: the comparable revision, and the source revision an execution is started with."""

    revision: str
    start_with: dict[str, Any]


def polled_sources(session: Session) -> list[PolledSource]:
    """Every polled source action of every pipeline's current version."""
    rows = session.execute(
        select(Pipeline.id, Pipeline.name, Pipeline.version, PipelineVersion.id)
        .join(
            PipelineVersion,
            (PipelineVersion.pipeline_id == Pipeline.id) & (PipelineVersion.version == Pipeline.version),
        )
        .order_by(Pipeline.id)
    ).all()
    return [
        PolledSource(pipeline_id, name, version, action)
        for pipeline_id, name, version, version_id in rows
        for action in definition_of_version(session, version_id).polled_source_actions()
    ]


def queue_poll(rt: Runtime) -> bool:
    """Queue a look at every polled source, unless there is none or a look is already queued or running."""
    with rt.db.reader() as session:
        if _poll_pending(session) or not polled_sources(session):
            return False
    with rt.transaction() as (session, outbox):
        if _poll_pending(session):
            return False
        outbox.add(Kind.POLL_SOURCES, POLL_SUBJECT, DEFAULT_QUEUE, timeout_seconds=JOB_TIMEOUT)
    return True


def _poll_pending(session: Session) -> bool:
    pending = select(Dispatch.id).where(unfinished(), Dispatch.kind == Kind.POLL_SOURCES.value)
    return session.scalars(pending.limit(1)).first() is not None


def poll_sources(rt: Runtime) -> list[str]:
    """Read every polled source once and start the pipelines whose sources changed; returns the executions started."""
    with rt.db.reader() as session:
        sources = polled_sources(session)
    found: dict[tuple[str, ...], Seen | str] = {}
    by_pipeline: dict[int, list[tuple[PolledSource, Seen | str]]] = {}
    for source in sources:
        if source.target not in found:
            found[source.target] = _look(rt, source)
        by_pipeline.setdefault(source.pipeline_id, []).append((source, found[source.target]))
    started = (_settle(rt, looked) for looked in by_pipeline.values())
    return [execution_id for execution_id in started if execution_id is not None]


def _look(rt: Runtime, source: PolledSource) -> Seen | str:
    """What the source holds now, or why it could not be read."""
    configuration = source.action.configuration
    try:
        if source.action.type_id.provider == "S3":
            return _look_at_object(rt, source.action)
        repository = git_source(configuration)
        commit = mirrors(rt, configuration).resolve(repository.url, branch=repository.branch)
        return Seen(commit.sha, {"commit": commit.sha})
    except GitError as exc:
        reason = exc.message
    except S3_FAILURES as exc:
        reason = _unreadable_object(configuration, exc)
    except Exception as exc:  # one source that fails in a way not foreseen must not keep the others from being read
        log.exception("polling %s failed", source.describe())
        reason = f"{type(exc).__name__}: {redact(str(exc))}"
    log.warning("polling %s: %s", source.describe(), reason)
    return reason


def _look_at_object(rt: Runtime, action: ActionDeclaration) -> Seen:
    client = aws.client("s3", rt.settings, region=action.region, role_arn=action.role_arn)
    head = client.head_object(Bucket=action.configuration["S3Bucket"], Key=action.configuration["S3ObjectKey"])
    version = head.get("VersionId")
    if version and version != "null":  # "null": the object was written while the bucket had no versions
        return Seen(version, {"commit": version})  # as a start by hand names a version
    return Seen(str(head["ETag"]).strip('"'), {})


def _unreadable_object(configuration: dict[str, str], exc: Exception) -> str:
    where = s3_url(configuration["S3Bucket"], configuration["S3ObjectKey"])
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
    if status == 404:  # HeadObject has no body to say whether the bucket or the object is missing
        return f"{where} does not exist (no such bucket, or no such object in it)"
    if status == 403:
        return f"access to {where} was refused (HeadObject needs s3:GetObject on it)"
    return f"cannot read {where}: {redact(str(exc))}"


def _settle(rt: Runtime, looked: list[tuple[PolledSource, Seen | str]]) -> str | None:
    """Record what the look at one pipeline's sources found, and start the pipeline if any of them changed."""
    first = looked[0][0]
    now = utcnow()
    with rt.transaction() as (session, outbox):
        pipeline = lock(session, Pipeline, first.pipeline_id, key_share=True)  # its executions may go on starting
        if pipeline is None or pipeline.version != first.version:
            return None  # deleted or updated since the sources were listed: the next pass reads the new version
        kept = session.scalars(select(SourcePoll).where(SourcePoll.pipeline_id == pipeline.id))
        polls_of = {state.action_name: state for state in kept}
        changed: dict[str, dict[str, Any]] = {}
        for source, seen in looked:
            name = source.action.name
            state = polls_of.get(name)
            if state is None:  # the pipeline's row is held: no other look adds this one meanwhile
                state = SourcePoll(pipeline_id=pipeline.id, action_name=name)
                session.add(state)
            state.checked_at = now
            if isinstance(seen, str):
                state.error = seen
                continue
            ran = _revisions_run(session, pipeline.id, name, since=state.seen_at)
            if seen.revision != state.revision and seen.revision not in ran:
                changed[name] = seen.start_with
            if seen.revision != state.revision:
                state.revision, state.seen_at = seen.revision, now
            state.error = None
        if not changed:
            return None
        detail = ", ".join(f"{name} changed" for name in changed)
        return start_execution(
            session, outbox, pipeline.id, pipeline.version, TriggerType.POLL_FOR_SOURCE_CHANGES, detail, changed
        )


def _revisions_run(session: Session, pipeline_id: int, action: str, since: datetime | None) -> set[str]:
    """The revisions of a source action in the pipeline's executions since `since` (the last change a look saw),
    or in its newest execution when no look saw one yet."""
    query = select(PipelineExecution.source_revisions).where(PipelineExecution.pipeline_id == pipeline_id)
    if since is not None:
        query = query.where(PipelineExecution.created_at >= since)
    newest = query.order_by(PipelineExecution.created_at.desc()).limit(_RECENT if since is not None else 1)
    return set(_revision_values(session.scalars(newest), action))


def _revision_values(revisions: Iterable[dict[str, Any]], action: str) -> Iterable[str]:
    for revision in revisions:
        of_action = (revision or {}).get(action) or {}
        value = of_action.get("commit")  # a commit, or an S3 object's version id
        if value:
            yield str(value)
