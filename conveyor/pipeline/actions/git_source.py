"""Git source actions (CodeStarSourceConnection, GitHub, Git): fetch the exact commit and store it as a zip.

The revision is the commit the triggering push named, the head commit of the triggering pull request (fetched
through `refs/pull/<n>/head` when no branch holds it: a fork's), or the one given at a manual start; otherwise the
head of the configured branch at the time the action runs, which then becomes the execution's revision: it is
listed with the execution, and a retry of the action fetches that commit again, so one execution runs one revision.
The artifact is the commit's tree without `.git` (CODE_ZIP), or with `OutputArtifactFormat: CODEBUILD_CLONE_REF`
a full clone: the working tree with its `.git` — the whole history, the tags, the remote's branches as
`origin/<name>`, `origin` pointing at the repository (without credentials) — checked out on the branch that was
pushed or configured (tracking `origin/<branch>`), or detached for a pull request or a tag. Where CodePipeline hands
CodeBuild a reference and CodeBuild clones the repository again, Conveyor zips the clone it makes from its mirror,
so the build needs neither access to the repository nor a second fetch; only CodeBuild actions may take such an
artifact, as in CodePipeline (the definition is refused otherwise). The artifact records the push or pull request
that delivered it, for CodeBuild's webhook variables.

A private repository over HTTPS is read with a token: a GitHub (version 1) action's own `OAuthToken` for the site of
its repository, otherwise, for GitHub's site (github.com, or the GitHub Enterprise host of `CONVEYOR_GITHUB_API_URL`),
the server's `CONVEYOR_GITHUB_TOKEN`, as a CodeStar connection lends its access to every pipeline that names it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from conveyor.archives import write_zip
from conveyor.config import Settings
from conveyor.git import GitError, Mirrors, RevisionNotFound
from conveyor.git_credentials import GitCredential, server_credentials, site_of
from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.catalog import GitSource, git_source, is_full_clone
from conveyor.pipeline.secrets import is_mask
from conveyor.pipeline.status import ActionStatus
from conveyor.redaction import redact, without_credentials
from conveyor.runtime import Runtime


def start(context: ActionStart) -> None:
    settings = context.settings
    queue_run(context, timeout_seconds=int(settings.git_timeout * (settings.git_retries + 1) + 120))


def mirrors(rt: Runtime, *configurations: dict[str, Any]) -> Mirrors:
    """The mirrors, with the tokens that read the repositories of these source configurations."""
    settings = rt.settings
    return Mirrors(
        settings.path("mirrors"),
        timeout=settings.git_timeout,
        retries=settings.git_retries,
        credentials=source_credentials(settings, *configurations),
    )


def source_credentials(settings: Settings, *configurations: dict[str, Any]) -> tuple[GitCredential, ...]:
    """The server's GitHub token for GitHub's site, and each configuration's `OAuthToken` for its repository's site
    (which it takes over there)."""
    found = {credential.site: credential for credential in server_credentials(settings)}
    for configuration in configurations:
        token = configuration.get("OAuthToken")
        site = site_of(git_source(configuration).url)
        if isinstance(token, str) and token and not is_mask(token) and site:
            found[site] = GitCredential(site, token, "the action's OAuthToken")
    return tuple(found.values())


def fetch(rt: Runtime, run: ActionRun) -> ActionOutcome:
    """Fetch the revision, store the source artifact, and describe the commit in output variables."""
    declaration = run.declaration
    revision = run.source_revisions.get(declaration.name) or {}
    pull_request = revision.get("pull_request")
    source = git_source(declaration.configuration)
    refs = (revision["ref"],) if pull_request else ()
    try:
        repositories = mirrors(rt, declaration.configuration)
        commit = repositories.resolve(source.url, branch=source.branch, commit=revision.get("commit"), refs=refs)
        key = run.output_key(declaration.output_artifacts[0])
        with tempfile.TemporaryDirectory(prefix="conveyor-source-") as scratch:
            archive = Path(scratch) / "source.zip"
            if is_full_clone(declaration.configuration):
                clone = Path(scratch) / "clone"
                origin = without_credentials(source.url)
                repositories.clone(source.url, commit.sha, clone, branch=_branch_of(source, revision), origin=origin)
                write_zip(archive, _tree_entries(clone), keep_symlinks=True)
            else:
                repositories.archive(source.url, commit.sha, archive)
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


def _branch_of(source: GitSource, revision: dict[str, Any]) -> str | None:
    """The branch a full clone is checked out on: the one pushed, else the configured one; none (a detached HEAD)
    for a pull request or a tag."""
    ref = str(revision.get("ref") or "")
    if revision.get("pull_request") or ref.startswith("refs/tags/"):
        return None
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else source.branch or None


def _tree_entries(root: Path) -> list[tuple[Path, str]]:
    """Every file, link and folder under `root` (folders too: git needs its empty ones), named relative to it."""
    return [(path, path.relative_to(root).as_posix()) for path in sorted(root.rglob("*"))]
