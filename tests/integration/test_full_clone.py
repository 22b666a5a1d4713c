"""Full clones (`OutputArtifactFormat: CODEBUILD_CLONE_REF`): the build gets the working tree with its `.git`, so
git commands work in it as they would in a clone of one's own — on SQLite and PostgreSQL, with a real repository,
the real worker code (`run_jobs`) and bash."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from conveyor.archives import write_zip
from conveyor.build.views import build_log
from conveyor.db.models import Build
from conveyor.errors import SpecError
from conveyor.git import Mirrors
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.git_source import _branch_of, _tree_entries
from conveyor.pipeline.catalog import git_source
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from conveyor.triggers.service import receive_delivery
from tests.integration.test_build_run_as import needs_root
from tests.support.gitrepo import GitRepo, git
from tests.support.pipelines import as_yaml, build_action, pipeline, source_action
from tests.unit.test_build_runner import run_build

GIT_BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - echo "head $(git rev-parse HEAD)"
      - echo "branch $(git rev-parse --abbrev-ref HEAD)"
      - echo "upstream $(git rev-parse --abbrev-ref --symbolic-full-name @{upstream})"
      - echo "commits $(git rev-list --count HEAD)"
      - echo "described $(git describe --tags)"
      - echo "origin $(git remote get-url origin)"
      - echo "clean [$(git status --porcelain)]"
      - test -x tools/run.sh && echo "executable kept"
      - echo "link $(readlink docs/current)"
"""


def full_clone_pipeline(rt: Runtime, name: str, url: str, **configuration: str) -> None:
    document = pipeline(name, url, build_actions=[build_action(outputs=())])
    extra = {"OutputArtifactFormat": "CODEBUILD_CLONE_REF", **configuration}
    document["pipeline"]["stages"][0]["actions"] = [source_action(url, **extra)]
    definitions.create_pipeline(rt, as_yaml(document))


def history(repo: GitRepo) -> str:
    """Three commits after the first, the first of them tagged v1.0; a script kept executable and a link."""
    repo.commit({"README": "one"}, "first")
    git(repo.path, "tag", "v1.0")
    repo.commit({"buildspec.yml": GIT_BUILDSPEC, "tools/run.sh": "#!/bin/sh\necho run\n", "docs/v1/a": "a"}, "second")
    (repo.path / "tools" / "run.sh").chmod(0o755)
    (repo.path / "docs" / "current").symlink_to("v1")
    return repo.commit(message="third")


def log_of(rt: Runtime, execution_id: str) -> str:
    """The log of the execution's build, once the execution succeeded."""
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution
    [build_id] = [
        a["externalExecutionId"] for s in execution["stages"] for a in s["actions"] if a["provider"] == "CodeBuild"
    ]
    return build_log(rt, build_id)


def test_a_build_over_a_full_clone_can_ask_git_about_its_history(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    head = history(repo)
    full_clone_pipeline(rt, "clone", repo.url)

    execution_id = pipelines.start_pipeline(rt, "clone")
    run_jobs()

    log = log_of(rt, execution_id)
    assert f"head {head}" in log
    assert "branch main" in log  # on the branch, not a detached HEAD
    assert "upstream origin/main" in log
    assert "commits 4" in log  # the repository's first commit and the three of `history`
    assert "described v1.0-2-g" in log
    assert f"origin {repo.url}" in log
    assert "clean []" in log
    assert "executable kept" in log
    assert "link v1" in log


def test_a_pushed_commit_is_checked_out_on_the_pushed_branch_even_when_the_branch_moved_on(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    pushed = history(repo)
    full_clone_pipeline(rt, "pushed", repo.url)
    later = repo.commit(message="after the push")

    outcome = receive_delivery(rt, "delivery-clone", "push", push_payload("acme/app", repo.url, pushed))
    run_jobs()

    log = log_of(rt, outcome.execution_ids[0])
    assert f"head {pushed}" in log
    assert "branch main" in log
    assert later not in log


def test_a_zip_source_still_has_no_git_folder(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - test ! -e .git\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("zipped", repo.url, build_actions=[build_action(outputs=())])))

    execution_id = pipelines.start_pipeline(rt, "zipped")
    run_jobs()

    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"


def test_the_clone_holds_the_whole_repository_and_no_mirror_path(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    history(repo)
    full_clone_pipeline(rt, "stored", repo.url)
    pipelines.start_pipeline(rt, "stored")
    run_jobs()

    with rt.db.reader() as session:
        key = session.scalars(select(Build)).one().input_artifacts[0]["key"]
    archive = zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(key)))
    names = set(archive.namelist())
    assert {".git/HEAD", ".git/config", "README", "tools/run.sh"} <= names
    config = archive.read(".git/config").decode()
    assert str(rt.settings.path("mirrors")) not in config


@pytest.mark.parametrize(
    ("revision", "expected"),
    [
        ({}, "main"),
        ({"ref": "refs/heads/feature/x", "commit": "a" * 40}, "feature/x"),
        ({"ref": "refs/tags/v2", "commit": "a" * 40}, None),
        ({"ref": "refs/pull/7/head", "pull_request": {"number": 7}}, None),
    ],
)
def test_the_branch_a_full_clone_is_checked_out_on(revision: dict[str, Any], expected: str | None) -> None:
    source = git_source({"FullRepositoryId": "acme/app", "BranchName": "main"})
    assert _branch_of(source, revision) == expected


def test_only_codebuild_actions_may_take_a_full_clone(rt: Runtime, repo: GitRepo) -> None:
    document = pipeline("misused", repo.url)
    document["pipeline"]["stages"][0]["actions"] = [source_action(repo.url, OutputArtifactFormat="CODEBUILD_CLONE_REF")]
    deploy = {
        "name": "Upload",
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"BucketName": "site", "Extract": "true"},
        "inputArtifacts": [{"name": "SourceOutput"}],
    }
    document["pipeline"]["stages"][1]["actions"] = [deploy]

    with pytest.raises(SpecError) as raised:
        definitions.create_pipeline(rt, as_yaml(document))

    message = str(raised.value)
    assert "pipeline.stages[1].actions[0].inputArtifacts[0].name" in message
    assert "'SourceOutput' is a full clone (its source's OutputArtifactFormat is CODEBUILD_CLONE_REF)" in message


def test_an_unknown_artifact_format_is_refused(rt: Runtime, repo: GitRepo) -> None:
    with pytest.raises(SpecError) as raised:
        full_clone_pipeline(rt, "odd", repo.url, OutputArtifactFormat="TARBALL")
    assert "OutputArtifactFormat" in str(raised.value)
    assert "must be CODE_ZIP or CODEBUILD_CLONE_REF" in str(raised.value)


ASK_GIT = """version: 0.2
phases:
  build:
    commands:
      - echo "as $(id -un) on $(git rev-parse --abbrev-ref HEAD) with $(git rev-list --count HEAD) commits"
"""


@pytest.fixture
def clone_zip(tmp_path: Path, repo: GitRepo) -> Path:
    """The artifact a full-clone source stores, made the way it makes it."""
    history(repo)
    mirrors = Mirrors(tmp_path / "mirrors")
    commit = mirrors.resolve(repo.url, branch="main")
    mirrors.clone(repo.url, commit.sha, tmp_path / "clone", branch="main", origin=repo.url)
    archive = tmp_path / "clone.zip"
    write_zip(archive, _tree_entries(tmp_path / "clone"), keep_symlinks=True)
    return archive


@needs_root
def test_a_full_clone_answers_git_for_a_run_as_user(open_dir: Path, clone_zip: Path) -> None:
    build = run_build(open_dir, {}, archive=clone_zip, buildspec=ASK_GIT.replace("phases:", "run-as: nobody\nphases:"))

    assert build.result.status.value == "SUCCEEDED", build.log
    assert build.output == ["as nobody on main with 4 commits"]  # git trusts the clone its own user was handed


def test_a_full_clone_answers_git_in_the_sandbox(tmp_path: Path, clone_zip: Path) -> None:
    build = run_build(tmp_path / "sandboxed", {}, archive=clone_zip, buildspec=ASK_GIT, sandbox="bwrap")

    assert build.result.status.value == "SUCCEEDED", build.log
    assert build.output == ["as root on main with 4 commits"]
