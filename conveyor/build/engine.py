"""The build engine: which phase runs next and what the build's status is, as pure functions.

Contract (CodeBuild's phase transitions, §1.5 of the AWS semantics, with the [U] points decided):

    SUBMITTED → QUEUED → PROVISIONING → DOWNLOAD_SOURCE → INSTALL → PRE_BUILD → BUILD → POST_BUILD
              → UPLOAD_ARTIFACTS → FINALIZING → COMPLETED

* A phase that succeeds leads to the next one.
* PROVISIONING, DOWNLOAD_SOURCE, INSTALL or PRE_BUILD failing skips to FINALIZING (decided: AWS shows this only
  in a diagram), unless the phase says `on-failure: CONTINUE`.
* BUILD failing still runs POST_BUILD; POST_BUILD failing still attempts UPLOAD_ARTIFACTS; UPLOAD_ARTIFACTS
  failing goes to FINALIZING. `on-failure: ABORT` on BUILD or POST_BUILD goes straight to FINALIZING.
* A timed-out or stopped build goes to FINALIZING whatever the phase.
* FINALIZING and COMPLETED always run.

The build's status: FAULT if any phase faulted (Conveyor's own failure), else TIMED_OUT or STOPPED if that ended
it, else FAILED if any phase failed, else SUCCEEDED.
"""

from __future__ import annotations

from collections.abc import Iterable

from conveyor.build.status import BuildStatus, PhaseType

ORDER = list(PhaseType)
_SKIP_TO_FINALIZING = {PhaseType.PROVISIONING, PhaseType.DOWNLOAD_SOURCE, PhaseType.INSTALL, PhaseType.PRE_BUILD}


def next_phase(phase: PhaseType, status: BuildStatus, on_failure: str | None = None) -> PhaseType:
    """The phase that follows `phase` once it ended with `status` (a BuildStatus value used as phase status)."""
    if phase is PhaseType.COMPLETED:
        raise ValueError("COMPLETED is the last phase")
    following = ORDER[ORDER.index(phase) + 1]
    if status is BuildStatus.SUCCEEDED or phase is PhaseType.FINALIZING:
        return following
    if status in (BuildStatus.TIMED_OUT, BuildStatus.STOPPED, BuildStatus.FAULT):
        return PhaseType.FINALIZING
    if phase in (PhaseType.SUBMITTED, PhaseType.QUEUED):
        return following
    action = (on_failure or "").upper()
    if action == "CONTINUE" and phase in (
        PhaseType.INSTALL,
        PhaseType.PRE_BUILD,
        PhaseType.BUILD,
        PhaseType.POST_BUILD,
    ):
        return following
    if action == "ABORT" or phase in _SKIP_TO_FINALIZING or phase is PhaseType.UPLOAD_ARTIFACTS:
        return PhaseType.FINALIZING
    return following  # BUILD → POST_BUILD, POST_BUILD → UPLOAD_ARTIFACTS


def build_status(phase_statuses: Iterable[BuildStatus]) -> BuildStatus:
    """The status of a finished build from the statuses of its phases."""
    seen = set(phase_statuses)
    for status in (BuildStatus.FAULT, BuildStatus.TIMED_OUT, BuildStatus.STOPPED, BuildStatus.FAILED):
        if status in seen:
            return status
    return BuildStatus.SUCCEEDED
