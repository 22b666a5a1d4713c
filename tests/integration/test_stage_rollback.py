"""Stage rollback on real builds: by hand to a chosen execution, and automatically when a stage with
`onFailure: ROLLBACK` fails; the rolled-back stage runs again on the target's artifacts."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.events import list_events
from conveyor.pipeline.rollback import rollback_stage
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline

BUILD = """\
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && cp deploy.yml out/buildspec.yml && cp -r state out/
artifacts:
  base-directory: out
  files: ['**/*']
"""
DEPLOY = """\
version: 0.2
phases:
  build:
    commands:
      - test -f state/ok
      - cat state/version > deployed.txt
artifacts:
  files: [deployed.txt]
"""


def _release(repo: GitRepo, version: str, ok: bool) -> str:
    """Commit a release whose deploy succeeds only when `ok`."""
    files = {"buildspec.yml": BUILD, "deploy.yml": DEPLOY, "state/version": version}
    if ok:
        files["state/ok"] = "yes"
    else:
        (repo.path / "state" / "ok").unlink(missing_ok=True)
    return repo.commit(files, f"release {version}")


def _define(rt: Runtime, repo: GitRepo, on_failure: dict[str, Any] | None = None, mode: str = "SUPERSEDED") -> None:
    deploy = build_action("Deploy", project="deploy", inputs=("BuildOutput",), outputs=("DeployOutput",))
    document = pipeline("release", repo.url, pipelineType="V2", executionMode=mode)
    stage: dict[str, Any] = {"name": "Deploy", "actions": [deploy]}
    if on_failure:
        stage["onFailure"] = on_failure
    document["pipeline"]["stages"].append(stage)
    definitions.create_pipeline(rt, as_yaml(document))


def _deployed(rt: Runtime, execution_id: str) -> str:
    execution = views.get_execution(rt, execution_id)
    deploy = execution["stages"][2]["actions"][0]
    blob = rt.blobs.get_bytes(deploy["outputArtifacts"]["DeployOutput"]["key"])
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return archive.read("deployed.txt").decode().strip()


def _run(rt: Runtime, run_jobs: Any) -> str:
    execution_id = pipelines.start_pipeline(rt, "release")
    run_jobs()
    return execution_id


def test_a_stage_rolled_back_by_hand_runs_again_on_the_targets_artifacts(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    _release(repo, "A", ok=True)
    _define(rt, repo)
    first = _run(rt, run_jobs)
    _release(repo, "B", ok=True)
    second = _run(rt, run_jobs)
    assert (_deployed(rt, first), _deployed(rt, second)) == ("A", "B")

    rollback_id = rollback_stage(rt, "release", "Deploy", first, by="oncall")
    run_jobs()
    rollback = views.get_execution(rt, rollback_id)
    assert rollback["status"] == "Succeeded", rollback["statusSummary"]
    assert rollback["executionType"] == "ROLLBACK"
    assert rollback["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": first}
    assert rollback["trigger"]["triggerType"] == "ManualRollback"
    assert "asked by oncall" in rollback["trigger"]["triggerDetail"]
    assert [s["status"] for s in rollback["stages"]] == ["Succeeded"] * 3
    assert rollback["stages"][1]["actions"][0]["summary"] == f"From execution {first}"  # copied, not run again
    assert _deployed(rt, rollback_id) == "A"
    told = [(e["detail"].get("stage"), e["detail"]["state"]) for e in list_events(rt, execution_id=rollback_id)]
    assert told[0] == (None, "STARTED")
    assert told[-1] == (None, "SUCCEEDED")
    assert ("Deploy", "STARTED") in told
    assert ("Build", "STARTED") not in told  # copied from the target, not run


def test_rollback_requests_are_checked(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    _release(repo, "A", ok=False)
    _define(rt, repo)
    failed = _run(rt, run_jobs)
    assert views.get_execution(rt, failed)["status"] == "Failed"
    with pytest.raises(Conflict, match="did not succeed in stage Deploy"):
        rollback_stage(rt, "release", "Deploy", failed)
    with pytest.raises(InvalidRequest, match="source stage"):
        rollback_stage(rt, "release", "Source", failed)
    with pytest.raises(NotFound, match="no stage 'Test'"):
        rollback_stage(rt, "release", "Test", failed)
    with pytest.raises(NotFound, match="has no execution"):
        rollback_stage(rt, "release", "Deploy", "00000000-0000-0000-0000-000000000000")


def test_on_failure_rollback_returns_the_stage_to_the_last_execution_that_succeeded_in_it(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    _release(repo, "A", ok=True)
    _define(rt, repo, on_failure={"result": "ROLLBACK"})
    good = _run(rt, run_jobs)
    _release(repo, "B", ok=False)
    bad = _run(rt, run_jobs)

    failed = views.get_execution(rt, bad)
    assert failed["status"] == "Failed"
    rollbacks = [e for e in views.list_executions(rt, "release") if e["executionType"] == "ROLLBACK"]
    assert len(rollbacks) == 1
    rollback = views.get_execution(rt, rollbacks[0]["pipelineExecutionId"])
    assert failed["statusSummary"].endswith(f"rolled back by execution {rollback['pipelineExecutionId']}")
    assert rollback["trigger"]["triggerType"] == "AutomatedRollback"
    assert rollback["rollbackMetadata"] == {"rollbackTargetPipelineExecutionId": good}
    assert rollback["status"] == "Succeeded", rollback["statusSummary"]
    assert _deployed(rt, rollback["pipelineExecutionId"]) == "A"


def test_on_failure_rollback_with_nothing_to_return_to_says_so(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    _release(repo, "B", ok=False)
    _define(rt, repo, on_failure={"result": "ROLLBACK"})
    bad = _run(rt, run_jobs)
    assert views.get_execution(rt, bad)["statusSummary"].endswith("no earlier execution succeeded in stage Deploy")
    assert len(views.list_executions(rt, "release")) == 1
