"""Statuses and phase names of builds, spelled as the CodeBuild API spells them."""

from __future__ import annotations

from enum import Enum


class BuildStatus(str, Enum):
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # the user's build failed: a command exited non-zero, or the buildspec is invalid
    FAULT = "FAULT"  # Conveyor could not run the build: say why in the status reason
    TIMED_OUT = "TIMED_OUT"
    STOPPED = "STOPPED"

    @property
    def final(self) -> bool:
        return self is not BuildStatus.IN_PROGRESS


class PhaseType(str, Enum):
    SUBMITTED = "SUBMITTED"
    QUEUED = "QUEUED"
    PROVISIONING = "PROVISIONING"
    DOWNLOAD_SOURCE = "DOWNLOAD_SOURCE"
    INSTALL = "INSTALL"
    PRE_BUILD = "PRE_BUILD"
    BUILD = "BUILD"
    POST_BUILD = "POST_BUILD"
    UPLOAD_ARTIFACTS = "UPLOAD_ARTIFACTS"
    FINALIZING = "FINALIZING"
    COMPLETED = "COMPLETED"


# The buildspec's phase keys, in the order they always run.
BUILDSPEC_PHASES: dict[str, PhaseType] = {
    "install": PhaseType.INSTALL,
    "pre_build": PhaseType.PRE_BUILD,
    "build": PhaseType.BUILD,
    "post_build": PhaseType.POST_BUILD,
}
