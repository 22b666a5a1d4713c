"""Batch builds as the API and the CLI show them (the shape of CodeBuild's BatchGetBuildBatches)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conveyor.build.status import BuildStatus
from conveyor.db.models import Build, BuildBatch
from conveyor.errors import NotFound
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def get_batch(rt: Runtime, batch_id: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        batch = session.get(BuildBatch, batch_id)
        if batch is None:
            raise NotFound(f"no build batch {batch_id}")
        return describe_batch(rt, batch)


def list_batches(rt: Runtime, project_name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        query = select(BuildBatch).order_by(BuildBatch.created_at.desc()).limit(limit)
        if project_name:
            query = query.where(BuildBatch.project_name == project_name)
        return [describe_batch(rt, batch, details=False) for batch in session.scalars(query)]


def describe_batch(rt: Runtime, batch: BuildBatch, *, details: bool = True) -> dict[str, Any]:
    described: dict[str, Any] = {
        "id": batch.id,
        "projectName": batch.project_name,
        "buildBatchStatus": batch.status,
        "statusReason": batch.status_reason,
        "currentPhase": batch.current_phase,
        "complete": BuildStatus(batch.status).final,
        "initiator": batch.initiator,
        "sourceVersion": batch.source_version,
        "resolvedSourceVersion": batch.resolved_source_version,
        "startTime": iso(batch.start_time),
        "endTime": iso(batch.end_time),
        "batchKind": batch.kind,
        "fastFail": batch.fast_fail,
        "combineArtifacts": batch.combine_artifacts,
        "stopRequestedAt": iso(batch.stop_requested_at),
        "artifacts": (
            {"location": rt.blobs.url(batch.artifact["key"]), "key": batch.artifact["key"]} if batch.artifact else None
        ),
    }
    if details:
        started = {b.batch_identifier: b for b in batch.builds}
        described["phases"] = batch.phases
        described["buildGroups"] = [_build_group(task, started.get(task["identifier"])) for task in batch.tasks]
    return described


def _build_group(task: dict[str, Any], build: Build | None) -> dict[str, Any]:
    """A task of the batch, with the build started for it (none yet: no summary)."""
    summary = {"arn": build.id, "buildStatus": build.status, "currentPhase": build.current_phase} if build else None
    return {
        "identifier": task["identifier"],
        "dependsOn": list(task["depend_on"]),
        "ignoreFailure": task["ignore_failure"],
        "currentBuildSummary": summary,
    }
