"""DeletePipeline: the pipeline, its versions and executions go in one transaction and its name is free again; the
builds its actions made are kept; an execution in progress refuses it. Through the services, the REST API and the
command line, on real SQL, git and workers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.errors import Conflict, NotFound
from conveyor.pipeline import definitions, views
from conveyor.pipeline.deletion import delete_pipeline
from conveyor.pipeline.service import start_pipeline
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from tests.integration.conftest import deliver
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


@pytest.fixture
def finished(rt: Runtime, repo: GitRepo, run_jobs) -> dict[str, str]:
    """Pipeline `app` with one execution that ran to the end, and `other` beside it."""
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    definitions.create_pipeline(rt, as_yaml(pipeline("other", f"{repo.url}-elsewhere", repository_id="acme/other")))
    execution_id = start_pipeline(rt, "app")
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded"
    return {"execution": execution_id, "build": execution["stages"][1]["actions"][0]["externalExecutionId"]}


def test_deleting_removes_the_pipeline_and_its_executions_and_keeps_its_builds(
    client: FlaskClient, rt: Runtime, repo: GitRepo, finished: dict[str, str], run_jobs
) -> None:
    answer = client.delete("/api/v1/pipelines/app")

    assert answer.status_code == 200
    assert answer.get_json() == {"pipelineName": "app", "executionsDeleted": 1}
    assert client.get("/api/v1/pipelines/app").status_code == 404
    assert client.get(f"/api/v1/executions/{finished['execution']}").status_code == 404
    assert [p["name"] for p in client.get("/api/v1/pipelines").get_json()["pipelines"]] == ["other"]
    build = client.get(f"/api/v1/builds/{finished['build']}").get_json()
    assert build["buildStatus"] == "SUCCEEDED"  # the build and its log outlive the pipeline, as in CodeBuild
    assert "Running command echo building" in client.get(f"/api/v1/builds/{finished['build']}/logs").text

    pushed = deliver(client, "push", push_payload("acme/app", repo.url, repo.head()), delivery="after-delete")
    assert pushed.status_code == 200  # nothing subscribes to acme/app any more
    assert pushed.get_json()["status"] == "ignored"
    run_jobs()  # whatever was still queued for the deleted executions finds nothing to do, and no error

    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))  # the name is free again
    assert definitions.get_pipeline(rt, "app")["pipeline"]["version"] == 1
    assert views.list_executions(rt, "app") == []


def test_an_execution_in_progress_refuses_the_deletion(
    client: FlaskClient, rt: Runtime, finished: dict[str, str]
) -> None:
    running = start_pipeline(rt, "app")  # queued, not run: in progress

    with pytest.raises(Conflict) as refused:
        delete_pipeline(rt, "app")

    assert refused.value.message == (
        f"pipeline 'app' has executions in progress ({running}): stop them first (conveyor executions stop ID), "
        "then delete it"
    )
    answer = client.delete("/api/v1/pipelines/app")
    assert answer.status_code == 409
    assert answer.get_json()["error"] == "Conflict"
    assert {e["pipelineExecutionId"] for e in views.list_executions(rt, "app")} == {running, finished["execution"]}


def test_an_unknown_pipeline_is_a_404(client: FlaskClient, rt: Runtime) -> None:
    with pytest.raises(NotFound, match="no pipeline named 'ghost'"):
        delete_pipeline(rt, "ghost")
    answer = client.delete("/api/v1/pipelines/ghost")
    assert answer.status_code == 404
    assert answer.get_json() == {"error": "NotFound", "message": "no pipeline named 'ghost'"}


def test_the_cli_deletes_a_pipeline(settings: Settings, rt: Runtime, finished: dict[str, str]) -> None:
    runner = CliRunner()
    env = settings_environment(settings)

    deleted = runner.invoke(main, ["--direct", "pipeline", "delete", "app"], env=env)
    again = runner.invoke(main, ["--direct", "pipeline", "delete", "app"], env=env)

    assert deleted.exit_code == 0, deleted.output
    assert deleted.output == "deleted pipeline app and its 1 execution(s)\n"
    assert again.exit_code == 1
    assert again.output == "error: no pipeline named 'app'\n"
    listed = json.loads(runner.invoke(main, ["--direct", "pipeline", "list", "-o", "json"], env=env).output)
    assert [p["name"] for p in listed] == ["other"]
