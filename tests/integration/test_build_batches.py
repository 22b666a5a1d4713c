"""Batch builds through a pipeline's CodeBuild action (BatchEnabled): real git, SQL, Redis, RQ workers and bash."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import yaml
from flask.testing import FlaskClient
from rq import SimpleWorker
from sqlalchemy import select

from conveyor.db.models import Build, BuildBatch
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline

PHASES = """\
phases:
  build:
    commands:
      - echo "task=$CODEBUILD_BATCH_BUILD_IDENTIFIER suite=${SUITE:-none} node=${NODE:-none} os=${OS:-none}"
      - 'if [ "${FAIL_IN:-}" = "$CODEBUILD_BATCH_BUILD_IDENTIFIER" ]; then exit 3; fi'
      - mkdir -p out && echo "$CODEBUILD_BATCH_BUILD_IDENTIFIER" > out/who.txt
artifacts:
  files: [out/who.txt]
"""
GRAPH = {
    "version": 0.2,
    "batch": {
        "build-graph": [
            {"identifier": "lint"},
            {"identifier": "test", "env": {"variables": {"SUITE": "unit"}}},
            {"identifier": "package", "depend-on": ["lint", "test"]},
        ]
    },
}


def buildspec(batch: dict[str, Any]) -> str:
    return yaml.safe_dump(batch, sort_keys=False) + PHASES


def run_batch_pipeline(rt: Runtime, repo: GitRepo, spec_text: str, **configuration: str) -> dict[str, Any]:
    repo.commit({"buildspec.yml": spec_text})
    action = build_action(project="batched")
    action["configuration"].update({"BatchEnabled": "true", **configuration})
    definitions.create_pipeline(rt, as_yaml(pipeline("batched", repo.url, build_actions=[action])))
    execution_id = pipelines.start_pipeline(rt, "batched")
    work(rt)
    return views.get_execution(rt, execution_id)


def work(rt: Runtime) -> None:
    SimpleWorker(["pipeline", "default", "build-small", "build-large"], connection=rt.redis).work(
        burst=True, logging_level="WARNING"
    )


def the_batch(rt: Runtime) -> tuple[BuildBatch, dict[str, Build]]:
    with rt.db.reader() as session:
        batch = session.scalars(select(BuildBatch)).one()
        builds = {b.batch_identifier: b for b in session.scalars(select(Build).where(Build.batch_id == batch.id))}
        return batch, builds


def test_a_build_graph_runs_in_dependency_order_and_combines_the_artifacts(
    rt: Runtime, repo: GitRepo, client: FlaskClient
) -> None:
    execution = run_batch_pipeline(rt, repo, buildspec(GRAPH), CombineArtifacts="true")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    batch, builds = the_batch(rt)
    assert batch.status == "SUCCEEDED"
    assert [p["phaseType"] for p in batch.phases] == [
        "SUBMITTED",
        "DOWNLOAD_BATCHSPEC",
        "IN_PROGRESS",
        "COMBINE_ARTIFACTS",
        "SUCCEEDED",
    ]
    assert set(builds) == {"lint", "test", "package"}
    assert all(b.status == "SUCCEEDED" for b in builds.values())
    ended = max(builds["lint"].end_time, builds["test"].end_time)  # type: ignore[type-var]
    assert builds["package"].created_at >= ended  # submitted once both had ended
    assert builds["test"].environment["SUITE"] == "unit"
    action = execution["stages"][1]["actions"][0]
    key = action["outputArtifacts"]["BuildOutput"]["key"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(key))) as archive:
        assert sorted(archive.namelist()) == ["lint/out/who.txt", "package/out/who.txt", "test/out/who.txt"]
        assert archive.read("test/out/who.txt") == b"test\n"
    log = client.get(f"/api/v1/builds/{builds['test'].id}/logs").get_data(as_text=True)
    assert "task=test suite=unit" in log
    shown = client.get(f"/api/v1/batches/{batch.id}").get_json()
    assert shown["batchKind"] == "build-graph"
    assert [g["identifier"] for g in shown["buildGroups"]] == ["lint", "test", "package"]
    assert shown["buildGroups"][2]["dependsOn"] == ["lint", "test"]
    assert client.get(f"/api/v1/builds/{builds['lint'].id}").get_json()["batchIdentifier"] == "lint"


def test_a_failed_task_fails_the_batch_and_its_dependents_never_run(rt: Runtime, repo: GitRepo) -> None:
    graph = json.loads(json.dumps(GRAPH))
    graph["batch"]["build-graph"][1]["env"]["variables"]["FAIL_IN"] = "test"

    execution = run_batch_pipeline(rt, repo, buildspec(graph))

    assert execution["status"] == "Failed"
    batch, builds = the_batch(rt)
    assert batch.status == "FAILED"
    assert batch.status_reason == "builds that failed: test; not run: package"
    assert [(p["phaseType"], p["phaseStatus"]) for p in batch.phases][-2:] == [
        ("IN_PROGRESS", "FAILED"),
        ("FAILED", "FAILED"),
    ]
    assert set(builds) == {"lint", "test"}
    assert "Batch" in execution["stages"][1]["actions"][0]["summary"]


def test_an_ignored_failure_lets_the_batch_and_its_dependents_go_on(rt: Runtime, repo: GitRepo) -> None:
    graph = json.loads(json.dumps(GRAPH))
    graph["batch"]["build-graph"][1]["env"]["variables"]["FAIL_IN"] = "test"
    graph["batch"]["build-graph"][1]["ignore-failure"] = True

    execution = run_batch_pipeline(rt, repo, buildspec(graph), CombineArtifacts="true")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    batch, builds = the_batch(rt)
    assert (builds["test"].status, builds["package"].status) == ("FAILED", "SUCCEEDED")
    assert batch.artifact is not None
    assert batch.artifact["builds"] == 2  # the failed build left no artifact


def test_fast_fail_stops_the_builds_still_waiting(rt: Runtime, repo: GitRepo) -> None:
    batch_section = {
        "fast-fail": True,
        "build-list": [
            {"identifier": "breaks", "env": {"variables": {"FAIL_IN": "breaks"}}},
            {"identifier": "slow"},
            {"identifier": "slower"},
        ],
    }

    execution = run_batch_pipeline(rt, repo, buildspec({"version": 0.2, "batch": batch_section}))

    assert execution["status"] == "Failed"
    batch, builds = the_batch(rt)
    assert batch.status == "FAILED"
    assert builds["breaks"].status == "FAILED"
    assert (builds["slow"].status, builds["slower"].status) == ("STOPPED", "STOPPED")
    assert builds["slow"].start_time is None  # stopped in the queue: it never ran


def test_a_build_matrix_runs_every_combination_with_its_values(rt: Runtime, repo: GitRepo, client: FlaskClient) -> None:
    matrix = {
        "static": {"env": {"variables": {"SUITE": "all"}}},
        "dynamic": {"env": {"variables": {"NODE": ["18", "20"], "OS": ["linux", "alpine"]}}},
    }

    execution = run_batch_pipeline(
        rt, repo, buildspec({"version": 0.2, "batch": {"build-matrix": matrix}}), CombineArtifacts="true"
    )

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    _, builds = the_batch(rt)
    assert set(builds) == {"NODE_18_OS_linux", "NODE_18_OS_alpine", "NODE_20_OS_linux", "NODE_20_OS_alpine"}
    log = client.get(f"/api/v1/builds/{builds['NODE_20_OS_alpine'].id}/logs").get_data(as_text=True)
    assert "task=NODE_20_OS_alpine suite=all node=20 os=alpine" in log


def test_separate_artifacts_map_to_output_artifacts_named_by_identifier(rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": buildspec(GRAPH)})
    action = build_action(project="batched", outputs=("lint", "package"))
    action["configuration"]["BatchEnabled"] = "true"
    definitions.create_pipeline(rt, as_yaml(pipeline("batched", repo.url, build_actions=[action])))
    execution_id = pipelines.start_pipeline(rt, "batched")
    work(rt)

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    outputs = execution["stages"][1]["actions"][0]["outputArtifacts"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(outputs["package"]["key"]))) as archive:
        assert archive.read("out/who.txt") == b"package\n"


def test_a_buildspec_without_a_batch_section_fails_the_batch_before_any_build(rt: Runtime, repo: GitRepo) -> None:
    execution = run_batch_pipeline(rt, repo, "version: 0.2\n" + PHASES)

    assert execution["status"] == "Failed"
    batch, builds = the_batch(rt)
    assert batch.status == "FAILED"
    assert builds == {}
    assert "a batch build needs a batch section in its buildspec" in (batch.status_reason or "")
    assert batch.phases[1]["phaseType"] == "DOWNLOAD_BATCHSPEC"
    assert batch.phases[1]["phaseStatus"] == "FAILED"


def test_stopping_a_batch_stops_its_waiting_builds(rt: Runtime, repo: GitRepo, client: FlaskClient) -> None:
    repo.commit({"buildspec.yml": buildspec(GRAPH)})
    action = build_action(project="batched")
    action["configuration"]["BatchEnabled"] = "true"
    definitions.create_pipeline(rt, as_yaml(pipeline("batched", repo.url, build_actions=[action])))
    execution_id = pipelines.start_pipeline(rt, "batched")
    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    batch, builds = the_batch(rt)
    assert set(builds) == {"lint", "test"}  # queued, waiting for a build worker

    stopped = client.post(f"/api/v1/batches/{batch.id}/stop")
    again = client.post(f"/api/v1/batches/{batch.id}/stop")
    work(rt)

    assert stopped.status_code == 200
    assert stopped.get_json()["buildBatchStatus"] == "STOPPED"
    assert again.status_code == 409
    batch, builds = the_batch(rt)
    assert {b.status for b in builds.values()} == {"STOPPED"}
    assert views.get_execution(rt, execution_id)["status"] == "Failed"


def test_a_bad_batch_section_is_reported_with_its_lines(rt: Runtime, repo: GitRepo) -> None:
    bad = {
        "version": 0.2,
        "batch": {"build-graph": [{"identifier": "a", "depend-on": ["b"]}, {"identifier": "b", "depend-on": ["a"]}]},
    }

    run_batch_pipeline(rt, repo, buildspec(bad))

    batch, _ = the_batch(rt)
    assert batch.status == "FAILED"
    assert "the tasks depend on each other in a cycle: a → b → a" in (batch.status_reason or "")
