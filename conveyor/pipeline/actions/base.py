"""What every action provider is handed when its action starts, and what it reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from conveyor import aws
from conveyor.config import Settings
from conveyor.db.models import ActionExecution, PipelineExecution
from conveyor.dispatch import Kind, Outbox
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.pipeline.status import ActionStatus
from conveyor.queues import DEFAULT_QUEUE


class ActionConfigurationError(ValueError):
    """A configuration that cannot be used once its references are resolved; fails the action as it starts."""


@dataclass
class ActionStart:
    session: Session
    outbox: Outbox
    settings: Settings
    execution: PipelineExecution
    pipeline_name: str
    declaration: ActionDeclaration
    action: ActionExecution
    input_artifacts: dict[str, dict[str, Any]]  # artifact name → {"key": blob key, "revision": …}
    configuration: dict[str, str]  # the declaration's, with its variable references resolved
    # the namespaces this action may read (`#{namespace.key}`), for references outside the configuration
    variables: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionRun:
    """What a provider's runner is handed when its job runs: the action as it started, read back from SQL."""

    action_execution_id: str
    execution_id: str
    pipeline_name: str
    declaration: ActionDeclaration
    configuration: dict[str, str]  # resolved, as the action started with it
    input_artifacts: dict[str, dict[str, Any]]  # artifact name → {"key": blob key, "revision": …}
    source_revisions: dict[str, Any]  # the execution's: a push's commit or a manual start's override, by action

    def aws_client(self, service: str, settings: Settings) -> Any:
        """A boto3 client for this action: in its `region` and as its `roleArn` when the declaration gives them."""
        return aws.client(service, settings, region=self.declaration.region, role_arn=self.declaration.role_arn)

    def output_key(self, artifact_name: str) -> str:
        """Where this action stores an output artifact in the blob store."""
        return artifact_key(self.pipeline_name, self.execution_id, artifact_name)


@dataclass
class ActionOutcome:
    """What an action reports when it ends."""

    status: ActionStatus
    summary: str | None = None
    error_code: str | None = None
    output_artifacts: dict[str, Any] = field(default_factory=dict)
    output_variables: dict[str, str] = field(default_factory=dict)
    external_execution_id: str | None = None  # when given, replaces the one the action had
    # a source action's: the revision it fetched (a commit, an object version), kept as the execution's source
    # revision for that action, so the execution shows what it ran and a retry fetches the same revision again
    revision: dict[str, str] | None = None


def artifact_key(pipeline_name: str, execution_id: str, artifact_name: str) -> str:
    """Where a pipeline artifact is stored in the blob store."""
    return f"pipelines/{pipeline_name}/{execution_id}/{artifact_name}.zip"


def queue_run(context: ActionStart, timeout_seconds: int = 600, queue: str = DEFAULT_QUEUE) -> None:
    """Hand the action's work to a job (`jobs.actions`), which runs the provider's runner and reports back."""
    context.outbox.add(Kind.ACTION, context.action.id, queue, timeout_seconds=timeout_seconds)
