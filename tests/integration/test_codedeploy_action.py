"""A pipeline's CodeDeploy action deploys its input artifact to a deployment group's hosts and ends as the deployment
ends: real git source, real RQ workers standing for the pipeline and for each host's agent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conveyor.deploy import deployments
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.hosts import Fleet, app_revision, make_fleet
from tests.support.pipelines import as_yaml, source_action

CODEDEPLOY = {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"}


def _pipeline(repo: GitRepo, group: str = "web") -> str:
    deploy = {
        "name": "Ship",
        "actionTypeId": CODEDEPLOY,
        "configuration": {"ApplicationName": "shop", "DeploymentGroupName": group},
        "inputArtifacts": [{"name": "SourceOutput"}],
    }
    stages = [{"name": "Source", "actions": [source_action(repo.url)]}, {"name": "Deploy", "actions": [deploy]}]
    return as_yaml({"pipeline": {"name": f"release-{group}", "stages": stages}})


def _run_until_ended(rt: Runtime, fleet: Fleet, run_jobs: Any, execution_id: str) -> dict[str, Any]:
    for _ in range(20):
        run_jobs()
        fleet.work()
        run_jobs()
        execution = views.get_execution(rt, execution_id)
        if execution["status"] not in ("InProgress", "Stopping"):
            return execution
    raise AssertionError(f"execution {execution_id} did not end: {execution}")


def test_the_source_is_deployed_to_every_host_and_the_action_succeeds_with_the_deployment(
    rt: Runtime, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    fleet = make_fleet(rt, tmp_path, 2, config="CodeDeployDefault.AllAtOnce")
    repo.commit(app_revision("v1"))
    definitions.create_pipeline(rt, _pipeline(repo))

    execution = _run_until_ended(rt, fleet, run_jobs, pipelines.start_pipeline(rt, "release-web"))
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    ship = execution["stages"][1]["actions"][0]
    deployment_id = ship["externalExecutionId"]
    assert ship["summary"] == f"Deployment {deployment_id} succeeded"
    deployment = deployments.get_deployment(rt, deployment_id)
    assert deployment["status"] == "Succeeded"
    assert deployment["revision"]["revisionType"] == "Artifact"
    assert {t["targetId"]: t["status"] for t in deployment["targets"]} == {"web-01": "Succeeded", "web-02": "Succeeded"}
    for host in ("web-01", "web-02"):
        assert (fleet.site(host) / "index.html").read_text() == "<h1>v1</h1>"


def test_a_failed_deployment_fails_the_action_and_names_its_rollback(
    rt: Runtime, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    fleet = make_fleet(
        rt,
        tmp_path,
        1,
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    repo.commit(app_revision("v1"))
    definitions.create_pipeline(rt, _pipeline(repo))
    first = _run_until_ended(rt, fleet, run_jobs, pipelines.start_pipeline(rt, "release-web"))
    assert first["status"] == "Succeeded", first["statusSummary"]

    repo.commit(app_revision("v2", validate="echo broken >&2; exit 3"))
    second = _run_until_ended(rt, fleet, run_jobs, pipelines.start_pipeline(rt, "release-web"))
    assert second["status"] == "Failed"
    ship = second["stages"][1]["actions"][0]
    assert ship["errorCode"] == "JobFailed"
    assert ship["summary"].startswith(f"Deployment {ship['externalExecutionId']} Failed")
    assert "(rolled back by deployment d-" in ship["summary"]
    fleet.work()  # the rollback deployment, which no pipeline action waits for
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"


def test_a_deployment_that_cannot_start_fails_the_action_with_the_reason(
    rt: Runtime, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    repo.commit(app_revision("v1"))
    definitions.create_pipeline(rt, _pipeline(repo, group="nowhere"))
    execution = _run_until_ended(rt, fleet, run_jobs, pipelines.start_pipeline(rt, "release-nowhere"))
    ship = execution["stages"][1]["actions"][0]
    assert execution["status"] == "Failed"
    assert ship["errorCode"] == "ConfigurationError"
    assert "nowhere" in ship["summary"]

    repo.commit({"appspec.yml": "version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: x.sh\n"})
    definitions.create_pipeline(rt, _pipeline(repo))
    broken = _run_until_ended(rt, fleet, run_jobs, pipelines.start_pipeline(rt, "release-web"))
    ship = broken["stages"][1]["actions"][0]
    assert ship["errorCode"] == "ConfigurationError"
    assert "hooks.Install" in ship["summary"]
