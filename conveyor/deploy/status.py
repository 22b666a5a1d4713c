"""Statuses and error codes of deployments, their targets and lifecycle events, spelled as CodeDeploy spells them."""

from __future__ import annotations

from enum import Enum


class DeploymentStatus(str, Enum):
    CREATED = "Created"
    QUEUED = "Queued"
    IN_PROGRESS = "InProgress"
    BAKING = "Baking"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    READY = "Ready"

    @property
    def final(self) -> bool:
        return self in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.STOPPED)


class TargetStatus(str, Enum):
    """Where one target (a host, a Lambda function, an ECS service) stands in a deployment."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    UNKNOWN = "Unknown"
    READY = "Ready"

    @property
    def final(self) -> bool:
        return self in (TargetStatus.SUCCEEDED, TargetStatus.FAILED, TargetStatus.SKIPPED)


class LifecycleEventStatus(str, Enum):
    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"
    UNKNOWN = "Unknown"


class DeploymentErrorCode(str, Enum):
    """The codes of a failed or stopped deployment's `errorInformation` that Conveyor's engines decide."""

    HEALTH_CONSTRAINTS = "HEALTH_CONSTRAINTS"  # too many targets failed for the minimum healthy hosts
    HEALTH_CONSTRAINTS_INVALID = "HEALTH_CONSTRAINTS_INVALID"  # the minimum leaves no host to deploy to
    NO_INSTANCES = "NO_INSTANCES"  # the deployment group matched no target
    HOOK_EXECUTION_FAILURE = "HOOK_EXECUTION_FAILURE"
    MANUAL_STOP = "MANUAL_STOP"
    ALARM_ACTIVE = "ALARM_ACTIVE"
    TIMEOUT = "TIMEOUT"
    REVISION_MISSING = "REVISION_MISSING"
    INVALID_REVISION = "INVALID_REVISION"
    AGENT_ISSUE = "AGENT_ISSUE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
