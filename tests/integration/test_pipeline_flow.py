"""A pipeline from push to artifact, in this process: real SQL, Redis, RQ, git and bash."""

from __future__ import annotations

import io
import json
import zipfile

from conveyor.pipeline import control, definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from conveyor.triggers.service import receive_delivery
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, build_action, pipeline, source_action


def test_push_runs_source_and_build_and_stores_the_artifact(rt: Runtime, repo: GitRepo, run_jobs) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC, "src/app.txt": "app\n"}, "add buildspec")
    definitions.create_pipeline(rt, as_yaml(pipeline("flow", repo.url)))

    outcome = receive_delivery(rt, "delivery-1", "push", push_payload("acme/app", repo.url, sha))
    assert outcome.status == "started"
    run_jobs()

    execution = views.get_execution(rt, outcome.execution_ids[0])
    assert execution["status"] == "Succeeded", execution
    source, build = (stage["actions"][0] for stage in execution["stages"])
    assert source["outputVariables"]["CommitId"] == sha
    assert source["outputVariables"]["CommitMessage"] == "add buildspec"
    artifact = build["outputArtifacts"]["BuildOutput"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(artifact["key"]))) as archive:
        assert archive.namelist() == ["out/result.txt"]
        assert archive.read("out/result.txt").decode() == f"built {sha}\n"


def test_a_failing_command_fails_the_build_and_the_execution(rt: Runtime, repo: GitRepo, run_jobs) -> None:
    buildspec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo before\n      - exit 3\n      - echo never\n"
    )
    repo.commit({"buildspec.yml": buildspec})
    definitions.create_pipeline(rt, as_yaml(pipeline("failing", repo.url)))

    execution_id = pipelines.start_pipeline(rt, "failing")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Failed"
    build_action = execution["stages"][1]["actions"][0]
    assert build_action["status"] == "Failed"
    assert "exit 3" in execution["statusSummary"]
    assert "exit status 3" in build_action["summary"]


def test_a_manual_start_shows_the_commit_its_source_fetched(rt: Runtime, repo: GitRepo, run_jobs) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC}, "add buildspec")
    definitions.create_pipeline(rt, as_yaml(pipeline("manual", repo.url)))

    execution_id = pipelines.start_pipeline(rt, "manual")
    assert views.get_execution(rt, execution_id)["sourceRevisions"] == []  # nothing asked for: the branch's head
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution
    assert execution["sourceRevisions"] == [{"actionName": "Source", "revisionId": sha, "ref": None}]
    [listed] = views.list_executions(rt, "manual")
    assert listed["sourceRevisions"] == execution["sourceRevisions"]


def test_retrying_a_source_stage_fetches_the_commits_the_execution_ran_with(
    rt: Runtime, repo: GitRepo, run_jobs
) -> None:
    first = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC}, "first")
    sources = [source_action(repo.url), source_action(repo.url, branch="release", name="Release", output="Released")]
    document = pipeline("two-sources", repo.url)
    document["pipeline"]["stages"][0]["actions"] = sources
    definitions.create_pipeline(rt, as_yaml(document))

    execution_id = pipelines.start_pipeline(rt, "two-sources")
    run_jobs()
    failed = views.get_execution(rt, execution_id)
    assert failed["status"] == "Failed"  # no branch `release` yet
    assert failed["sourceRevisions"] == [{"actionName": "Source", "revisionId": first, "ref": None}]

    later = repo.commit(message="later, on main")
    repo.branch("release")
    control.retry_stage(rt, "two-sources", execution_id, "Source", "ALL_ACTIONS")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution
    fetched = {a["actionName"]: a["outputVariables"]["CommitId"] for a in execution["stages"][0]["actions"]}
    assert fetched == {"Source": first, "Release": later}  # main moved on; the execution keeps its commit
    assert {r["actionName"]: r["revisionId"] for r in execution["sourceRevisions"]} == fetched


def test_a_push_gives_its_builds_codebuilds_webhook_variables(rt: Runtime, repo: GitRepo, run_jobs) -> None:
    names = ["EVENT", "HEAD_REF", "TRIGGER", "PREV_COMMIT", "ACTOR_ACCOUNT_ID"]
    lines = "".join(f'      - echo "{n}=${{CODEBUILD_WEBHOOK_{n}:-unset}}" >> out/env.txt\n' for n in names)
    head = "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p out\n"
    buildspec = f"{head}{lines}artifacts:\n  files: [out/env.txt]\n"
    before = repo.head()
    sha = repo.commit({"buildspec.yml": buildspec})
    definitions.create_pipeline(rt, as_yaml(pipeline("hooks", repo.url)))

    payload = push_payload("acme/app", repo.url, sha, before=before, pusher="octocat")
    pushed = receive_delivery(rt, "hook-1", "push", payload).execution_ids[0]
    manual = pipelines.start_pipeline(rt, "hooks")
    run_jobs()

    def env_of(execution_id: str) -> dict[str, str]:
        artifact = views.get_execution(rt, execution_id)["stages"][1]["actions"][0]["outputArtifacts"]["BuildOutput"]
        with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(artifact["key"]))) as archive:
            return dict(line.split("=", 1) for line in archive.read("out/env.txt").decode().splitlines())

    assert env_of(pushed) == {
        "EVENT": "PUSH",
        "HEAD_REF": "refs/heads/main",
        "TRIGGER": "branch/main",
        "PREV_COMMIT": before,
        "ACTOR_ACCOUNT_ID": str(payload["sender"]["id"]),
    }
    assert set(env_of(manual).values()) == {"unset"}


def test_secondary_artifacts_reach_later_actions_by_name(rt: Runtime, repo: GitRepo, run_jobs) -> None:
    build_spec = (
        "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p app docs\n"
        "      - echo app > app/main.txt\n      - echo docs > docs/index.html\n"
        "artifacts:\n  base-directory: app\n  files: ['**/*']\n  secondary-artifacts:\n"
        "    Docs:\n      base-directory: docs\n      files: ['**/*']\n"
    )
    check_spec = 'version: 0.2\nphases:\n  build:\n    commands:\n      - test "$(cat index.html)" = docs\n'
    repo.commit({"buildspec.yml": build_spec})
    document = pipeline("secondary", repo.url, build_actions=[build_action(outputs=("App", "Docs"))])
    check = build_action("CheckDocs", project="check", inputs=("Docs",), outputs=())
    check["actionTypeId"]["category"] = "Test"
    document["pipeline"]["stages"].append({"name": "Test", "actions": [check]})
    definitions.create_pipeline(rt, as_yaml(document))
    from conveyor.build import projects

    projects.put_project(rt, json.dumps({"name": "check", "source": {"buildspec": check_spec}}))  # inline

    execution_id = pipelines.start_pipeline(rt, "secondary")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    outputs = execution["stages"][1]["actions"][0]["outputArtifacts"]
    assert set(outputs) == {"App", "Docs"}
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(outputs["App"]["key"]))) as archive:
        assert archive.namelist() == ["main.txt"]
