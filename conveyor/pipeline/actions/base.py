"""What every action provider is handed when its action starts, and what it reports when it ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from conveyor.config import Settings
from conveyor.db.models import ActionExecution, PipelineExecution
from conveyor.dispatch import Outbox
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.pipeline.status import ActionStatus


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


@dataclass
class ActionOutcome:
    """What an action reports when it ends."""

    status: ActionStatus
    summary: str | None = None
    error_code: str | None = None
    output_artifacts: dict[str, Any] = field(default_factory=dict)
    output_variables: dict[str, str] = field(default_factory=dict)


def artifact_key(pipeline_name: str, execution_id: str, artifact_name: str) -> str:
    """Where a pipeline artifact is stored in the blob store."""
    return f"pipelines/{pipeline_name}/{execution_id}/{artifact_name}.zip"
