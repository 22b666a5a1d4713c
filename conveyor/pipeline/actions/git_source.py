"""Git source actions (CodeStarSourceConnection, GitHub, Git): fetch the exact commit and store it as a zip.

The revision is the commit the triggering push named, the head commit of the triggering pull request (fetched
through `refs/pull/<n>/head` when no branch holds it: a fork's), or the one given at a manual start; otherwise the
head of the configured branch at the time the action runs, which then becomes the execution's revision: it is
listed with the execution, and a retry of the action fetches that commit again, so one execution runs one revision.
The artifact is the commit's tree without `.git` (CODE_ZIP); it records the push or pull request that delivered
it, for CodeBuild's webhook variables.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from conveyor.git import GitError, Mirrors, RevisionNotFound, redact
from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.catalog import git_source
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime


def start(context: ActionStart) -> None:
    settings = context.settings
    queue_run(context, timeout_seconds=int(settings.git_timeout * (settings.git_retries + 1) + 120))


def mirrors(rt: Runtime) -> Mirrors:
    return Mirrors(rt.settings.path("mirrors"), timeout=rt.settings.git_timeout, retries=rt.settings.git_retries)


def fetch(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Fetch the revision, store the source artifact, and describe the commit in output variables."""
    declaration = run.declaration
    revision = run.source_revisions.get(declaration.name) or {}
    pull_request = revision.get("pull_request")
    source = git_source(declaration.configuration)
    refs = (revision["ref"],) if pull_request else ()
    try:
        commit = mirrors(rt).resolve(source.url, branch=source.branch, commit=revision.get("commit"), refs=refs)
        key = run.output_key(declaration.output_artifacts[0])
        with tempfile.TemporaryDirectory(prefix="conveyor-source-") as scratch:
            archive = Path(scratch) / "source.zip"
            mirrors(rt).archive(source.url, commit.sha, archive)
            rt.blobs.put_file(key, archive)
    except RevisionNotFound as exc:
        return ActionOutcome(ActionStatus.FAILED, summary=exc.message, error_code="RevisionUnavailable")
    except GitError as exc:
        return ActionOutcome(ActionStatus.FAILED, summary=exc.message, error_code="JobFailed")
    variables = {
        "AuthorDate": commit.author_date,
        "BranchName": pull_request["head_branch"] if pull_request else source.branch,
        "CommitId": commit.sha,
        "CommitMessage": commit.message,
        "ConnectionArn": declaration.configuration.get("ConnectionArn", ""),
        "FullRepositoryName": source.repository_id,
    }
    artifact: dict[str, Any] = {"key": key, "revision": commit.sha, "repository_url": redact(source.url)}
    if pull_request:  # builds over this artifact get CodeBuild's webhook variables
        artifact["pull_request"] = {**pull_request, "actor": revision.get("actor")}
    elif revision.get("ref"):
        artifact["push"] = {"ref": revision["ref"], "before": revision.get("before"), "actor": revision.get("actor")}
    summary = commit.message.splitlines()[0] if commit.message else commit.sha
    return ActionOutcome(
        ActionStatus.SUCCEEDED,
        summary=summary,
        output_artifacts={declaration.output_artifacts[0]: artifact},
        output_variables=variables,
        revision={"commit": commit.sha},
    )
