"""Builds as the API and the CLI show them (the shape of CodeBuild's BatchGetBuilds)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from conveyor.build.environment import build_arn
from conveyor.build.livelog import read_live
from conveyor.build.log import LogEvent
from conveyor.build.status import BuildStatus
from conveyor.db import newest_first
from conveyor.db.models import Build
from conveyor.errors import Conflict, NotFound
from conveyor.paging import Page, after_newest, newest_key, page_of
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def get_build(rt: Runtime, build_id: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
        return describe_build(rt, build)


def list_builds(rt: Runtime, project_name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    return page_of_builds(rt, project_name, limit).items


def page_of_builds(
    rt: Runtime, project_name: str | None = None, limit: int = 50, next_token: str | None = None
) -> Page:
    """The newest builds (of one project when named), `limit` of them, from where `next_token` left off."""
    after = after_newest(next_token, "builds")
    with rt.db.reader() as session:
        query = newest_first(select(Build), [Build.created_at, Build.id], after, limit)
        if project_name:
            query = query.where(Build.project_name == project_name)
        return page_of(
            list(session.scalars(query)), limit, "builds", newest_key, lambda b: describe_build(rt, b, phases=False)
        )


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
        "buildBatchArn": build.batch_id,
        "batchIdentifier": build.batch_identifier,
        "stopRequestedAt": iso(build.stop_requested_at),
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
        "secondaryArtifacts": [
            {"artifactIdentifier": identifier, "location": rt.blobs.url(record["key"]), "key": record["key"]}
            for identifier, record in (build.artifact.get("secondary") or {}).items()
        ],
    }


def follow_log(
    rt: Runtime, build_id: str, after: str | None = None, window_seconds: float = 25.0
) -> Iterator[LogEvent]:
    """The log as it is written, from `after` (an event id) on, for at most `window_seconds`; ends with "end".

    A finished build whose live log has expired (or never existed) gives its stored log as one piece.
    """
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        if build is None:
            raise NotFound(f"no build {build_id}")
    if rt.redis is None:
        yield from _stored(rt, build_id)
        return
    deadline = time.monotonic() + window_seconds
    cursor, block_ms = after or "0", None  # the first read does not wait: an old build answers at once
    while (remaining_ms := int((deadline - time.monotonic()) * 1000)) > 0:
        page = read_live(rt.redis, build_id, cursor, block_ms=block_ms)
        for chunk in page.chunks:
            yield LogEvent("log", chunk.entry_id, chunk.text)
        cursor = page.last_id
        if page.ended is not None:
            yield LogEvent("end", cursor, page.ended)
            return
        if cursor == "0" and _finished(rt, build_id):  # finished, and nothing live: the stored log
            yield from _stored(rt, build_id)
            return
        block_ms = min(remaining_ms, 5000)


def _finished(rt: Runtime, build_id: str) -> bool:
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        return build is not None and BuildStatus(build.status).final


def _stored(rt: Runtime, build_id: str) -> Iterator[LogEvent]:
    with rt.db.reader() as session:
        build = session.get_one(Build, build_id)
        status, key = build.status, build.log_key
    if key is not None:
        yield LogEvent("log", "stored", rt.blobs.get_bytes(key).decode("utf-8", errors="replace"))
    if BuildStatus(status).final:
        yield LogEvent("end", "stored", status)
