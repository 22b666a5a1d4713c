"""Statuses of pipeline executions, stages and actions, spelled as CodePipeline spells them."""

from __future__ import annotations

from enum import Enum


class ExecutionStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    SUCCEEDED = "Succeeded"
    SUPERSEDED = "Superseded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def final(self) -> bool:
        return self not in (ExecutionStatus.IN_PROGRESS, ExecutionStatus.STOPPING)


class StageStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    SKIPPED = "Skipped"


class ActionStatus(str, Enum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ABANDONED = "Abandoned"

    @property
    def final(self) -> bool:
        return self is not ActionStatus.IN_PROGRESS


class ConditionStatus(str, Enum):
    """A stage condition's check (CodePipeline's ConditionExecutionStatus)."""

    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    OVERRIDDEN = "Overridden"


class TriggerType(str, Enum):
    """What started an execution (CodePipeline's `triggerType`)."""

    CREATE_PIPELINE = "CreatePipeline"
    START_PIPELINE_EXECUTION = "StartPipelineExecution"
    WEBHOOK = "Webhook"
    WEBHOOK_V2 = "WebhookV2"
    POLL_FOR_SOURCE_CHANGES = "PollForSourceChanges"
    MANUAL_ROLLBACK = "ManualRollback"
    AUTOMATED_ROLLBACK = "AutomatedRollback"
    SCHEDULE = "Schedule"  # Conveyor's own: a cron schedule fired (AWS would say CloudWatchEvent for EventBridge)
