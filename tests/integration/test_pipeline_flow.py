"""A pipeline from push to artifact, in this process: real SQL, Redis, RQ, git and bash."""

from __future__ import annotations

import io
import zipfile

from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from conveyor.triggers.service import receive_delivery
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


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
