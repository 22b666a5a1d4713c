"""Builds as the API and the CLI show them (the shape of CodeBuild's BatchGetBuilds)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conveyor.build.environment import build_arn
from conveyor.build.status import BuildStatus
from conveyor.db.models import Build
from conveyor.errors import Conflict, NotFound
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def get_build(rt: Runtime, build_id: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
        return describe_build(rt, build)


def list_builds(rt: Runtime, project_name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        query = select(Build).order_by(Build.created_at.desc()).limit(limit)
        if project_name:
            query = query.where(Build.project_name == project_name)
        return [describe_build(rt, build, phases=False) for build in session.scalars(query)]


def build_log(rt: Runtime, build_id: str) -> str:
    """The stored log of a finished build."""
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
        status, log_key = build.status, build.log_key
    if log_key is None:
        if status == BuildStatus.IN_PROGRESS.value:
            raise Conflict(f"build {build_id} is still running; its log is stored when it ends")
        raise NotFound(f"build {build_id} has no stored log")
    return rt.blobs.get_bytes(log_key).decode("utf-8", errors="replace")


def describe_build(rt: Runtime, build: Build, *, phases: bool = True) -> dict[str, Any]:
    described: dict[str, Any] = {
        "id": build.id,
        "arn": build_arn(rt.settings.aws_region, build.id),
        "buildNumber": build.build_number,
        "projectName": build.project_name,
        "buildStatus": build.status,
        "statusReason": build.status_reason,
        "currentPhase": build.current_phase,
        "buildComplete": BuildStatus(build.status).final,
        "initiator": build.initiator,
        "computeType": build.compute_type,
        "sourceVersion": build.source_version,
        "resolvedSourceVersion": build.resolved_source_version,
        "startTime": iso(build.start_time),
        "endTime": iso(build.end_time),
        "attempt": build.attempt,
        "exportedEnvironmentVariables": [{"name": k, "value": v} for k, v in build.exported_variables.items()],
        "artifacts": _artifacts(rt, build),
        "logs": {"location": rt.blobs.url(build.log_key) if build.log_key else None},
    }
    if phases:
        described["phases"] = [
            {
                "phaseType": p.phase_type,
                "phaseStatus": p.phase_status,
                "startTime": iso(p.start_time),
                "endTime": iso(p.end_time),
                "durationInSeconds": p.duration_seconds,
                "contexts": p.contexts,
            }
            for p in build.phases
        ]
    return described


def _artifacts(rt: Runtime, build: Build) -> dict[str, Any] | None:
    if not build.artifact:
        return None
    return {
        "location": rt.blobs.url(build.artifact["key"]),
        "key": build.artifact["key"],
        "files": build.artifact.get("files"),
        "size": build.artifact.get("size"),
    }
