"""CodeDeploy's compute platforms: what a deployment puts the revision on."""

from __future__ import annotations

from enum import Enum


class ComputePlatform(str, Enum):
    """CodeDeploy's `computePlatform`: what a deployment puts the revision on, and so which AppSpec it reads."""

    SERVER = "Server"  # EC2 instances and on-premises hosts, through the agent
    LAMBDA = "Lambda"
    ECS = "ECS"

    @property
    def label(self) -> str:
        return PLATFORM_LABELS[self]


PLATFORM_LABELS = {
    ComputePlatform.SERVER: "EC2/on-premises",
    ComputePlatform.LAMBDA: "AWS Lambda",
    ComputePlatform.ECS: "Amazon ECS",
}
