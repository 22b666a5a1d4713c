"""SQL tables: the source of truth for definitions, executions, builds, deliveries and queued work.

Statuses are stored as their enum values (the AWS spellings). Times are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from conveyor.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Pipeline(Base):
    __tablename__ = "pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(default=1)
    pipeline_type: Mapped[str] = mapped_column(String(8), default="V2")
    # "<stage>" → {"reason", "lastChangedAt", "lastChangedBy"}: the stage's inbound transition is disabled
    disabled_transitions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[PipelineVersion]] = relationship(
        back_populates="pipeline", order_by="PipelineVersion.version"
    )


class ExecutionRequest(Base):
    """A start that named a `clientRequestToken`: the execution it started, and a digest of what it asked for, so
    that the same request sent again starts nothing more."""

    __tablename__ = "execution_requests"

    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), primary_key=True)
    client_request_token: Mapped[str] = mapped_column(String(128), primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(36))
    request_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PipelineVersion(Base):
    """One saved definition of a pipeline; executions keep the version they started with."""

    __tablename__ = "pipeline_versions"
    __table_args__ = (UniqueConstraint("pipeline_id", "version"), {"sqlite_autoincrement": True})  # ids never reused

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    pipeline: Mapped[Pipeline] = relationship(back_populates="versions")


class SourceSubscription(Base):
    """An index from a repository key (normalised clone URL or `owner/repo`) to a pipeline's source action."""

    __tablename__ = "source_subscriptions"
    __table_args__ = (UniqueConstraint("pipeline_id", "action_name", "repository_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    action_name: Mapped[str] = mapped_column(String(100))
    repository_key: Mapped[str] = mapped_column(String(500), index=True)


class PipelineExecution(Base):
    __tablename__ = "pipeline_executions"
    __table_args__ = (
        Index("ix_executions_pipeline_newest", "pipeline_id", "created_at", "id"),  # a pipeline's newest first
        Index("ix_executions_created", "created_at", "id"),  # the newest first, of every pipeline
        Index("ix_executions_waiting", "pipeline_id", "waiting_stage"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    pipeline_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_summary: Mapped[str | None] = mapped_column(Text)
    trigger_type: Mapped[str] = mapped_column(String(32))
    trigger_detail: Mapped[str | None] = mapped_column(Text)
    source_revisions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the stage this execution waits to enter (locked by another execution, or its transition disabled)
    waiting_stage: Mapped[str | None] = mapped_column(String(100))
    waiting_since: Mapped[datetime | None]
    execution_type: Mapped[str] = mapped_column(String(16), default="STANDARD")  # or ROLLBACK
    rollback_target_id: Mapped[str | None] = mapped_column(String(36))
    rollback_stage: Mapped[str | None] = mapped_column(String(100))  # the one stage a rollback execution runs
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    ended_at: Mapped[datetime | None]

    pipeline: Mapped[Pipeline] = relationship()
    stages: Mapped[list[StageExecution]] = relationship(order_by="StageExecution.position")
    actions: Mapped[list[ActionExecution]] = relationship(order_by="ActionExecution.started_at")


class StageExecution(Base):
    __tablename__ = "stage_executions"
    __table_args__ = (UniqueConstraint("execution_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("pipeline_executions.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    # retryStageMetadata: autoStageRetryAttempt, manualStageRetryAttempt, latestRetryTrigger
    retry: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "beforeEntry" / "onSuccess" → {"status", "summary", "rules": [{"name", "status", "summary"}]}
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class ActionExecution(Base):
    """One attempt at an action; a stage retry retires the attempts it replaces and starts new ones."""

    __tablename__ = "action_executions"
    __table_args__ = (
        UniqueConstraint("execution_id", "stage_name", "action_name", "attempt", name="uq_action_executions_attempt"),
        Index("ix_action_executions_status", "status"),  # the ones in progress, for the reconciler
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    execution_id: Mapped[str] = mapped_column(ForeignKey("pipeline_executions.id", ondelete="CASCADE"), index=True)
    stage_name: Mapped[str] = mapped_column(String(100))
    action_name: Mapped[str] = mapped_column(String(100))
    run_order: Mapped[int]
    attempt: Mapped[int] = mapped_column(default=1)
    retired: Mapped[bool] = mapped_column(default=False)  # replaced by a stage retry: history only
    deadline_at: Mapped[datetime | None] = mapped_column(index=True)  # an answer (an approval) is due by then
    category: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    external_execution_id: Mapped[str | None] = mapped_column(String(200))
    output_artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    output_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the configuration with its `#{namespace.key}` references resolved, as the action started with it
    resolved_configuration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # what the provider keeps while the action waits on the outside world (a Lambda action's current job)
    provider_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class PipelineEvent(Base):
    """One state change, as EventBridge would carry it; ids only grow, so a reader resumes after the last it saw."""

    __tablename__ = "pipeline_events"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"), index=True)
    execution_id: Mapped[str] = mapped_column(ForeignKey("pipeline_executions.id", ondelete="CASCADE"), index=True)
    detail_type: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BuildProject(Base):
    """A CodeBuild project. A name that was never registered is created on first use with the defaults."""

    __tablename__ = "build_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    buildspec: Mapped[str | None] = mapped_column(Text)  # a path in the source, or inline YAML; None = buildspec.yml
    compute_type: Mapped[str | None] = mapped_column(String(64))
    environment_variables: Mapped[list[Any]] = mapped_column(default=list)
    timeout_minutes: Mapped[int | None]
    queued_timeout_minutes: Mapped[int | None]
    cache: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # CodeBuild's shape; None: the default LOCAL cache
    last_build_number: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]


class BuildBatch(Base):
    """A batch build: builds of one project over one source, run as the buildspec's `batch` section says."""

    __tablename__ = "build_batches"
    __table_args__ = (
        Index("ix_build_batches_created", "created_at"),  # the newest first, of every project
        Index("ix_build_batches_project_created", "project_name", "created_at"),  # a project's newest first
    )

    id: Mapped[str] = mapped_column(String(300), primary_key=True)  # <project>:<uuid>
    project_name: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    current_phase: Mapped[str] = mapped_column(String(32))
    phases: Mapped[list[Any]] = mapped_column(default=list)  # [{phaseType, phaseStatus, startTime, endTime, …}]
    initiator: Mapped[str] = mapped_column(String(200))
    buildspec: Mapped[str | None] = mapped_column(Text)
    source_version: Mapped[str | None] = mapped_column(String(200))
    resolved_source_version: Mapped[str | None] = mapped_column(String(64))
    input_artifacts: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)  # given at start: every build of it gets them
    secret_variables: Mapped[list[Any]] = mapped_column(default=list)  # PARAMETER_STORE/SECRETS_MANAGER given at start
    combine_artifacts: Mapped[bool] = mapped_column(default=False)
    kind: Mapped[str | None] = mapped_column(String(16))  # build-list, build-graph or build-matrix, once read
    fast_fail: Mapped[bool] = mapped_column(default=False)
    tasks: Mapped[list[Any]] = mapped_column(default=list)  # the batch's tasks, as read from the buildspec
    stop_requested_at: Mapped[datetime | None]
    action_execution_id: Mapped[str | None] = mapped_column(ForeignKey("action_executions.id"), index=True)
    artifact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]

    builds: Mapped[list[Build]] = relationship(order_by="Build.created_at", back_populates="batch")


class Build(Base):
    __tablename__ = "builds"
    __table_args__ = (
        UniqueConstraint("project_name", "build_number"),
        Index("ix_builds_created", "created_at", "id"),  # the newest first, of every project
        Index("ix_builds_status_phase", "status", "current_phase"),  # the queued ones, for the reconciler
        Index("ix_builds_project_created", "project_name", "created_at", "id"),  # a project's newest first
    )

    id: Mapped[str] = mapped_column(String(300), primary_key=True)  # <project>:<uuid>
    project_name: Mapped[str] = mapped_column(String(255), index=True)
    build_number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    current_phase: Mapped[str] = mapped_column(String(32))
    initiator: Mapped[str] = mapped_column(String(200))
    compute_type: Mapped[str] = mapped_column(String(64))
    buildspec: Mapped[str | None] = mapped_column(Text)
    timeout_minutes: Mapped[int]
    queued_timeout_minutes: Mapped[int] = mapped_column(default=480, server_default="480")
    stop_requested_at: Mapped[datetime | None]
    source_version: Mapped[str | None] = mapped_column(String(200))
    resolved_source_version: Mapped[str | None] = mapped_column(String(64))
    action_execution_id: Mapped[str | None] = mapped_column(ForeignKey("action_executions.id"), index=True)
    input_artifacts: Mapped[list[Any]] = mapped_column(default=list)
    environment: Mapped[dict[str, Any]] = mapped_column(default=dict)  # CODEBUILD_* and webhook values given at start
    secret_variables: Mapped[list[Any]] = mapped_column(
        default=list, server_default="[]"
    )  # the project's PARAMETER_STORE/SECRETS_MANAGER
    cache: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the project's cache when submitted: type, namespace
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("build_batches.id"), index=True)
    batch_identifier: Mapped[str | None] = mapped_column(String(127))  # its task in the batch
    attempt: Mapped[int] = mapped_column(default=0)
    log_key: Mapped[str | None] = mapped_column(String(500))
    artifact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    exported_variables: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    start_time: Mapped[datetime | None]
    end_time: Mapped[datetime | None]

    phases: Mapped[list[BuildPhase]] = relationship(order_by="BuildPhase.id", cascade="all, delete-orphan")
    batch: Mapped[BuildBatch | None] = relationship(back_populates="builds")


class BuildPhase(Base):
    __tablename__ = "build_phases"

    id: Mapped[int] = mapped_column(primary_key=True)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    phase_type: Mapped[str] = mapped_column(String(32))
    phase_status: Mapped[str | None] = mapped_column(String(16))
    start_time: Mapped[datetime] = mapped_column(default=utcnow)
    end_time: Mapped[datetime | None]
    duration_seconds: Mapped[int | None]
    contexts: Mapped[list[Any]] = mapped_column(default=list)


class WebhookDelivery(Base):
    """Every delivery received, once: a redelivery of the same `X-GitHub-Delivery` starts nothing."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(100), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    repository: Mapped[str | None] = mapped_column(String(500))
    ref: Mapped[str | None] = mapped_column(String(500))
    head_commit: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)  # the answer's: why it started what it did, or nothing
    execution_ids: Mapped[list[Any]] = mapped_column(default=list)
    # a push decided later (outcome "deferred"): {"push": the event, "pipelines": [[pipeline id, clone URL], …]}
    deferred: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dispatch(Base):
    """One unit of work sent to a queue (a transactional outbox row).

    Written in the same transaction as the state change that needs the work, enqueued to RQ after the commit. The
    RQ job carries only this row's id and attempt. The reconciler re-enqueues rows whose RQ job vanished and gives
    up, through the kind's handler, on rows whose attempts ran out.
    """

    __tablename__ = "dispatches"
    __table_args__ = (
        Index("ix_dispatches_state", "state"),
        Index("ix_dispatches_finished", "finished_at"),  # the done ones past their keeping, for the reconciler
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(300))
    queue: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    timeout_seconds: Mapped[int]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    @property
    def job_id(self) -> str:
        """The RQ job id of the current attempt."""
        return f"{self.id}-{self.attempt}"


# The deploy engine's, the schedules', the notifications', ChatOps', source polling's and build reports' tables join
# the same metadata (they import Base from here, so these imports come last).
from conveyor.db import (  # noqa: E402, F401
    chat_models,
    deploy_models,
    notify_models,
    poll_models,
    report_models,
    schedule_models,
)
