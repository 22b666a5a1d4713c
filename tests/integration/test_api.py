"""The REST API and /healthz on real SQL and Redis."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from typing import Any

import redis
from flask import Flask
from flask.testing import FlaskClient

from conveyor.config import Settings
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from handlers.app import REDIS_TIMEOUT_SECONDS, create_app
from handlers.health import REDIS_CHECK_SECONDS
from jobs.runtime import SEND_TIMEOUT_SECONDS
from tests.conftest import WEBHOOK_SECRET
from tests.integration.conftest import deliver
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline, source_action

YAML = {"Content-Type": "application/yaml"}


def test_healthz_checks_sql_and_redis(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_is_503_naming_redis_when_it_is_unreachable(client: FlaskClient, app: Flask) -> None:
    runtime = app.extensions["conveyor"]
    runtime.settings = dataclasses.replace(runtime.settings, redis_url="redis://127.0.0.1:1/0")  # nothing listens
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("Redis is unavailable")


def test_a_hung_redis_is_told_in_time_and_pushes_are_still_answered(own_redis: Settings, repo: GitRepo) -> None:
    """A Redis that takes connections and never answers (here: every client paused) must not hold the health check
    nor a webhook: the first answers 503 naming Redis, the second records the push and answers 202, each within its
    timeout; once Redis answers again, so does the check."""
    app = create_app({"data_dir": own_redis.data_dir, "github_webhook_secret": WEBHOOK_SECRET})
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200
        repo.commit({"README": "hung"})
        assert (
            client.post("/api/v1/pipelines", data=as_yaml(pipeline("hung", repo.url)), headers=YAML).status_code == 201
        )
        paused = redis.Redis(unix_socket_path=str(own_redis.embedded_redis_socket))
        paused.execute_command("CLIENT", "PAUSE", 7000, "ALL")

        started = time.monotonic()
        health = client.get("/healthz")
        assert time.monotonic() - started < REDIS_CHECK_SECONDS + 1
        assert health.status_code == 503
        assert health.get_json()["checks"]["redis"].startswith("Redis is unavailable: Timeout")
        assert health.get_json()["checks"]["database"] == "ok"

        started = time.monotonic()
        pushed = deliver(client, "push", push_payload("acme/app", repo.url, repo.head()))
        assert time.monotonic() - started < SEND_TIMEOUT_SECONDS + 1
        assert pushed.status_code == 202, pushed.get_json()  # recorded; the reconciler enqueues its job later

        paused.ping()  # answered once the pause ends
        assert client.get("/healthz").status_code == 200
        # and no other request (a log view, a build stop) waits on a hung Redis for longer than the web's bound
        web_redis = app.extensions["conveyor"].redis.connection_pool.connection_kwargs
        assert web_redis["socket_timeout"] == REDIS_TIMEOUT_SECONDS
    finally:
        app.extensions["conveyor"].db.dispose()


def test_create_get_list_and_update_a_pipeline(client: FlaskClient, repo: GitRepo) -> None:
    document = pipeline("api-demo", repo.url)
    created = client.post("/api/v1/pipelines", data=as_yaml(document), headers=YAML)
    assert created.status_code == 201
    assert created.get_json()["pipeline"]["version"] == 1

    document["pipeline"]["stages"][1]["actions"][0]["configuration"]["ProjectName"] = "renamed"
    updated = client.put(
        "/api/v1/pipelines/api-demo", data=json.dumps(document), headers={"Content-Type": "application/json"}
    )
    assert updated.status_code == 200
    assert updated.get_json()["pipeline"]["version"] == 2

    got = client.get("/api/v1/pipelines/api-demo").get_json()
    assert got["pipeline"]["stages"][1]["actions"][0]["configuration"]["ProjectName"] == "renamed"
    listed = client.get("/api/v1/pipelines").get_json()["pipelines"]
    assert [(p["name"], p["version"]) for p in listed] == [("api-demo", 2)]


def test_creating_a_pipeline_twice_is_409(client: FlaskClient, repo: GitRepo) -> None:
    text = as_yaml(pipeline("twice", repo.url))
    assert client.post("/api/v1/pipelines", data=text, headers=YAML).status_code == 201
    again = client.post("/api/v1/pipelines", data=text, headers=YAML)
    assert again.status_code == 409
    assert "already exists" in again.get_json()["message"]


def test_an_invalid_definition_is_400_listing_every_problem_with_path_and_line(client: FlaskClient) -> None:
    text = """\
pipeline:
  name: broken
  stages:
    - name: Source
      actions:
        - name: Fetch
          actionTypeId: {category: Source, owner: AWS, provider: CodeStarSourceConnection, version: "1"}
          configuration: {BranchName: main}
          outputArtifacts: [{name: Src}]
    - name: Build
      actions:
        - name: Compile
          actionTypeId: {category: Build, owner: AWS, provider: CodeBuild, version: "1"}
          configuration: {ProjectName: app}
          inputArtifacts: [{name: Missing}]
"""
    response = client.post("/api/v1/pipelines", data=text, headers={**YAML, "X-Conveyor-Filename": "broken.yml"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "InvalidSpecification"
    assert body["source"] == "broken.yml"
    problems = {(p["path"], p["line"]) for p in body["problems"]}
    assert ("pipeline.stages[0].actions[0].configuration", 8) in problems
    assert ("pipeline.stages[1].actions[0].inputArtifacts[0].name", 15) in problems
    assert client.get("/api/v1/pipelines/broken").status_code == 404


def test_an_empty_or_wrongly_typed_definition_is_400(client: FlaskClient) -> None:
    assert client.post("/api/v1/pipelines", data="", headers=YAML).status_code == 400
    assert client.post("/api/v1/pipelines", data="a", headers={"Content-Type": "image/png"}).status_code == 400


def test_start_with_variables_and_revision_then_read_the_execution(client: FlaskClient, repo: GitRepo) -> None:
    document = pipeline(
        "vars", repo.url, pipelineType="V2", variables=[{"name": "DEPLOY_ENV", "defaultValue": "staging"}]
    )
    client.post("/api/v1/pipelines", data=as_yaml(document), headers=YAML)
    started = client.post(
        "/api/v1/pipelines/vars/executions", json={"variables": {"DEPLOY_ENV": "prod"}, "revision": repo.head()}
    )
    assert started.status_code == 202
    execution_id = started.get_json()["pipelineExecutionId"]

    execution = client.get(f"/api/v1/executions/{execution_id}").get_json()
    assert execution["status"] == "InProgress"
    assert execution["variables"] == {"DEPLOY_ENV": "prod"}
    assert execution["trigger"]["triggerType"] == "StartPipelineExecution"
    assert execution["sourceRevisions"][0]["revisionId"] == repo.head()
    assert [s["stageName"] for s in execution["stages"]] == ["Source", "Build"]
    listed = client.get("/api/v1/executions?pipeline=vars").get_json()["executions"]
    assert [e["pipelineExecutionId"] for e in listed] == [execution_id]


def test_start_rejects_unknown_and_empty_variables_and_unknown_pipelines(client: FlaskClient, repo: GitRepo) -> None:
    client.post("/api/v1/pipelines", data=as_yaml(pipeline("strict", repo.url)), headers=YAML)
    unknown = client.post("/api/v1/pipelines/strict/executions", json={"variables": {"NOPE": "1"}})
    malformed = client.post(
        "/api/v1/pipelines/strict/executions", data="{", headers={"Content-Type": "application/json"}
    )
    missing = client.post("/api/v1/pipelines/absent/executions", json={})
    assert unknown.status_code == 400
    assert "NOPE" in unknown.get_json()["message"]
    assert malformed.status_code == 400
    assert missing.status_code == 404


def test_start_takes_start_pipeline_executions_source_revisions(client: FlaskClient, repo: GitRepo) -> None:
    first = repo.head()
    repo.commit({"later.txt": "later\n"})
    document = pipeline("pinned", repo.url)
    document["pipeline"]["stages"][0]["actions"].append(source_action(repo.url, name="Tools", output="ToolsOutput"))
    client.post("/api/v1/pipelines", data=as_yaml(document), headers=YAML)

    started = client.post(
        "/api/v1/pipelines/pinned/executions",
        json={
            "sourceRevisions": [
                {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": first},
                {"actionName": "Tools", "revisionType": "COMMIT_ID", "revisionValue": repo.head()},
            ]
        },
    )

    assert started.status_code == 202, started.get_json()
    execution = client.get(f"/api/v1/executions/{started.get_json()['pipelineExecutionId']}").get_json()
    assert {r["actionName"]: r["revisionId"] for r in execution["sourceRevisions"]} == {
        "Source": first,
        "Tools": repo.head(),
    }


def test_a_start_that_cannot_be_carried_out_as_asked_is_400(client: FlaskClient, repo: GitRepo) -> None:
    client.post("/api/v1/pipelines", data=as_yaml(pipeline("asked", repo.url)), headers=YAML)

    def start(body: dict[str, Any]) -> str:
        response = client.post("/api/v1/pipelines/asked/executions", json=body)
        assert response.status_code == 400, body
        return str(response.get_json()["message"])

    revision = {"actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": repo.head()}
    assert "unknown field(s) pipelineName" in start({"pipelineName": "asked"})  # it is not ignored
    assert "not both" in start({"revision": repo.head(), "sourceRevisions": [revision]})
    assert "IMAGE_DIGEST" in start({"sourceRevisions": [{**revision, "revisionType": "IMAGE_DIGEST"}]})
    assert "sourceRevisions[0] needs actionName" in start({"sourceRevisions": [{"actionName": "Source"}]})
    assert "no source action named 'Other'" in start({"sourceRevisions": [{**revision, "actionName": "Other"}]})
    assert "given two revisions" in start({"sourceRevisions": [revision, revision]})
    assert "is not ACTION=VALUE" in start({"revision": f"Source={repo.head()},oops"})


def test_unknown_things_are_404_with_json(client: FlaskClient) -> None:
    for path in (
        "/api/v1/executions/nope",
        "/api/v1/builds/app:nope",
        "/api/v1/builds/app:nope/logs",
        "/api/v1/pipelines/nope",
        "/no/such/route",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.is_json, path
        assert response.get_json()["message"], path


def test_bad_limit_is_400(client: FlaskClient) -> None:
    assert client.get("/api/v1/executions?limit=0").status_code == 400
    assert client.get("/api/v1/executions?limit=abc").status_code == 400


def test_api_token_is_required_when_configured(client: FlaskClient, app: Flask) -> None:
    runtime: Runtime = app.extensions["conveyor"]
    runtime.settings = dataclasses.replace(runtime.settings, api_token="t0ken")
    assert client.get("/api/v1/pipelines").status_code == 401
    assert client.get("/api/v1/pipelines", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/v1/pipelines", headers={"Authorization": "Bearer t0ken"}).status_code == 200
    assert client.get("/healthz").status_code == 200  # health checks stay open for load balancers


def test_openapi_document_lists_every_route(client: FlaskClient) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    routes = {
        (re.sub(r"<(?:path:)?(\w+)>", lambda m: "{" + _camel(m[1]) + "}", rule.rule.removeprefix("/api/v1")), method)
        for rule in client.application.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item if method != "parameters"
    }
    assert routes == listed


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


def test_control_calls_stop_retry_approve_transitions_and_rollback_over_http(
    client: FlaskClient, repo: GitRepo, run_jobs: Any
) -> None:
    from tests.support.approvals import gated_pipeline

    repo.commit({"README": "one"})
    assert client.post("/api/v1/pipelines", data=gated_pipeline("ops", repo.url), headers=YAML).status_code == 201
    first = client.post("/api/v1/pipelines/ops/executions", json={}).get_json()["pipelineExecutionId"]
    run_jobs()
    shown = client.get(f"/api/v1/executions/{first}").get_json()
    review = shown["stages"][1]["actions"][0]
    assert review["token"], shown

    approval = {"stageName": "Gate", "actionName": "Review", "token": review["token"], "by": "carol"}
    bad = client.post("/api/v1/pipelines/ops/approvals", json={**approval, "result": "yes"})
    assert (bad.status_code, bad.get_json()["error"]) == (400, "InvalidRequest")
    rejected = client.post("/api/v1/pipelines/ops/approvals", json={**approval, "result": {"status": "Rejected"}})
    assert rejected.status_code == 200, rejected.get_json()
    again = client.post("/api/v1/pipelines/ops/approvals", json={**approval, "result": {"status": "Approved"}})
    assert again.status_code == 409
    run_jobs()
    assert client.get(f"/api/v1/executions/{first}").get_json()["status"] == "Failed"

    missing = client.post(f"/api/v1/pipelines/ops/executions/{first}/retry", json={"stageName": "Gate"})
    assert (missing.status_code, missing.get_json()["message"]) == (400, "'retryMode' is required")
    retried = client.post(
        f"/api/v1/pipelines/ops/executions/{first}/retry", json={"stageName": "Gate", "retryMode": "ALL_ACTIONS"}
    )
    assert retried.status_code == 202, retried.get_json()
    run_jobs()
    assert client.get(f"/api/v1/executions/{first}").get_json()["status"] == "InProgress"

    disabled = client.post("/api/v1/pipelines/ops/stages/Release/disable", json={"transitionType": "Inbound"})
    assert disabled.status_code == 400  # a reason is required
    disabled = client.post(
        "/api/v1/pipelines/ops/stages/Release/disable", json={"transitionType": "Inbound", "reason": "freeze"}
    )
    assert disabled.get_json() == {"stageName": "Release", "transitionType": "Inbound", "enabled": False}
    assert client.get("/api/v1/pipelines/ops").get_json()["disabledTransitions"]["Release"]["reason"] == "freeze"
    enabled = client.post("/api/v1/pipelines/ops/stages/Release/enable", json={"transitionType": "Inbound"})
    assert enabled.status_code == 200

    stopped = client.post(f"/api/v1/pipelines/ops/executions/{first}/stop", json={"abandon": True, "reason": "x"})
    assert stopped.status_code == 202
    assert client.get(f"/api/v1/executions/{first}").get_json()["status"] == "Stopped"
    twice = client.post(f"/api/v1/pipelines/ops/executions/{first}/stop", json={"abandon": "yes"})
    assert twice.status_code == 400
    rollback = client.post("/api/v1/pipelines/ops/stages/Gate/rollback", json={"targetPipelineExecutionId": first})
    assert rollback.status_code == 409
    assert "did not succeed in stage Gate" in rollback.get_json()["message"]


def test_control_calls_refuse_fields_they_do_not_take_and_check_those_the_url_names(
    client: FlaskClient, repo: GitRepo
) -> None:
    client.post("/api/v1/pipelines", data=as_yaml(pipeline("named", repo.url)), headers=YAML)
    # StartPipelineExecution as AWS's clients send it: the pipeline's name in the body too
    started = client.post("/api/v1/pipelines/named/executions", json={"name": "named"})
    assert started.status_code == 202, started.get_json()
    execution_id = started.get_json()["pipelineExecutionId"]
    base = "/api/v1/pipelines/named"

    def refused(path: str, body: dict[str, Any]) -> str:
        response = client.post(f"{base}{path}", json=body)
        assert response.status_code == 400, (path, body)
        return str(response.get_json()["message"])

    assert "'name' is 'other', but the URL names 'named'" in refused("/executions", {"name": "other"})
    assert "unknown field(s) abandonn" in refused(f"/executions/{execution_id}/stop", {"abandonn": True})
    assert "but the URL names" in refused(f"/executions/{execution_id}/stop", {"pipelineExecutionId": "other"})
    assert "unknown field(s) retrymode" in refused(
        f"/executions/{execution_id}/retry", {"stageName": "Build", "retrymode": "FAILED_ACTIONS"}
    )
    assert "unknown field(s) reason" in refused("/stages/Build/enable", {"transitionType": "Inbound", "reason": "r"})
    assert "'stageName' is 'Source'" in refused(
        "/stages/Build/disable", {"stageName": "Source", "transitionType": "Inbound", "reason": "r"}
    )
    assert "unknown field(s) target" in refused("/stages/Build/rollback", {"target": execution_id})
    stopped = client.post(
        f"{base}/executions/{execution_id}/stop",
        json={"pipelineName": "named", "pipelineExecutionId": execution_id, "abandon": True, "reason": "done"},
    )
    assert stopped.status_code == 202, stopped.get_json()


def test_problems_in_a_project_are_said_to_be_in_the_project(client: FlaskClient) -> None:
    response = client.post("/api/v1/projects", json={"name": "x" * 300})

    assert response.status_code == 400
    assert response.get_json()["source"] == "project definition"
    assert client.post("/api/v1/projects", data="", content_type="application/json").get_json()["message"] == (
        "the request body is empty: send a project definition"
    )
