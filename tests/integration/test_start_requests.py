"""StartPipelineExecution's clientRequestToken: a start sent again with its token starts nothing more, also when the
two arrive together; over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask.testing import FlaskClient

from conveyor.pipeline import definitions, views
from conveyor.pipeline.start_requests import start_once
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline

VARIABLES = [{"name": "TARGET", "defaultValue": "staging"}]


def start(client: FlaskClient, name: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/pipelines/{name}/executions", json=body)


def executions_of(rt: Runtime, name: str) -> list[str]:
    return [e["pipelineExecutionId"] for e in views.list_executions(rt, name, limit=100)]


def test_the_same_request_sent_again_starts_nothing_more(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("once", repo.url, pipelineType="V2", variables=VARIABLES)))
    body = {"clientRequestToken": "retry-7f3a", "variables": {"TARGET": "prod"}}

    first = start(client, "once", body)
    again = start(client, "once", body)

    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert executions_of(rt, "once") == [first.get_json()["pipelineExecutionId"]]
    assert start(client, "once", {"variables": {"TARGET": "prod"}}).status_code == 202  # no token: a new start
    assert len(executions_of(rt, "once")) == 2


def test_a_token_used_for_other_variables_is_409(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("strict", repo.url, pipelineType="V2", variables=VARIABLES)))
    first = start(client, "strict", {"clientRequestToken": "t-1", "variables": {"TARGET": "prod"}})

    other = start(client, "strict", {"clientRequestToken": "t-1", "variables": {"TARGET": "staging"}})

    assert other.status_code == 409
    assert first.get_json()["pipelineExecutionId"] in other.get_json()["message"]
    assert len(executions_of(rt, "strict")) == 1


def test_a_token_belongs_to_its_pipeline(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    for name in ("left", "right"):
        definitions.create_pipeline(rt, as_yaml(pipeline(name, repo.url)))

    left = start(client, "left", {"clientRequestToken": "shared"}).get_json()["pipelineExecutionId"]
    right = start(client, "right", {"clientRequestToken": "shared"}).get_json()["pipelineExecutionId"]

    assert left != right
    assert executions_of(rt, "left") == [left]
    assert executions_of(rt, "right") == [right]


def test_a_malformed_token_is_400(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("checked", repo.url)))

    for token in ("", "has space", "x" * 129, 7):
        response = start(client, "checked", {"clientRequestToken": token})
        assert response.status_code == 400, token
        assert "clientRequestToken" in response.get_json()["message"]
    assert executions_of(rt, "checked") == []


def test_two_requests_with_one_token_arriving_together_start_one_execution(rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("together", repo.url)))

    with ThreadPoolExecutor(max_workers=4) as pool:
        started = list(pool.map(lambda _: start_once(rt, "together", "at-once"), range(4)))

    assert len(set(started)) == 1
    assert executions_of(rt, "together") == started[:1]


def test_a_deleted_pipelines_tokens_go_with_it(client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("again", repo.url)))
    first = start(client, "again", {"clientRequestToken": "nightly-1"}).get_json()["pipelineExecutionId"]
    run_jobs()  # it ends (no buildspec: failed), so the pipeline may be deleted
    assert client.delete("/api/v1/pipelines/again").status_code == 200

    definitions.create_pipeline(rt, as_yaml(pipeline("again", repo.url)))  # the same name (on SQLite, maybe the id)
    second = start(client, "again", {"clientRequestToken": "nightly-1"})

    assert second.status_code == 202
    assert second.get_json()["pipelineExecutionId"] != first
    assert executions_of(rt, "again") == [second.get_json()["pipelineExecutionId"]]
