"""The environment CodeBuild gives a build (§1.6 of the AWS semantics), with Conveyor's values. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ACCOUNT = "000000000000"  # Conveyor has no AWS account of its own; ARNs carry this one
IMAGE = "conveyor/host"


@dataclass(frozen=True)
class BuildIdentity:
    build_id: str  # <project>:<uuid>
    build_number: int
    project_name: str
    initiator: str
    start: datetime
    region: str
    source_version: str | None = None
    resolved_source_version: str | None = None
    repository_url: str | None = None


def build_arn(region: str, build_id: str) -> str:
    return f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{build_id}"


def project_arn(region: str, project_name: str) -> str:
    return f"arn:aws:codebuild:{region}:{ACCOUNT}:project/{project_name}"


def codebuild_variables(identity: BuildIdentity) -> dict[str, str]:
    """The CODEBUILD_* and AWS_* variables of one build."""
    variables = {
        "CODEBUILD_BUILD_ID": identity.build_id,
        "CODEBUILD_BUILD_ARN": build_arn(identity.region, identity.build_id),
        "CODEBUILD_BUILD_NUMBER": str(identity.build_number),
        "CODEBUILD_BUILD_IMAGE": IMAGE,
        "CODEBUILD_INITIATOR": identity.initiator,
        "CODEBUILD_LOG_PATH": identity.build_id.rpartition(":")[2],
        "CODEBUILD_PROJECT_ARN": project_arn(identity.region, identity.project_name),
        "CODEBUILD_SOURCE_VERSION": identity.source_version or "",
        "CODEBUILD_SOURCE_REPO_URL": identity.repository_url or "",
        "CODEBUILD_START_TIME": str(int(identity.start.timestamp() * 1000)),
        "AWS_REGION": identity.region,
        "AWS_DEFAULT_REGION": identity.region,
    }
    if identity.resolved_source_version:  # not set when no revision is known, as in CodeBuild
        variables["CODEBUILD_RESOLVED_SOURCE_VERSION"] = identity.resolved_source_version
    return variables
