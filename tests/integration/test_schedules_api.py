"""`/api/v1/schedules` on real SQL and Redis: the whole life of a schedule over HTTP, and its 4xx answers."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from conveyor.runtime import Runtime
from conveyor.schedules.firing import fire_due
from tests.support.gitrepo import GitRepo
from tests.support.schedules import build_schedule, janitor_project, pipeline_schedule, release_pipeline


def test_create_read_pause_resume_run_and_delete_over_http(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    release_pipeline(rt, repo)
    body = pipeline_schedule("nightly", "cron(0 2 ? * MON-FRI *)", scheduleExpressionTimezone="Europe/Paris")
    created = client.post("/api/v1/schedules", json={**body, "description": "the nightly release"})
    assert created.status_code == 201, created.get_json()
    schedule = created.get_json()
    assert schedule["state"] == "ENABLED"
    assert schedule["missed"] == "run-once"
    assert len(schedule["nextFireTimes"]) == 5
    assert all(t.endswith(":00.000Z") for t in schedule["nextFireTimes"])

    assert client.get("/api/v1/schedules/nightly?count=2").get_json()["nextFireTimes"] == schedule["nextFireTimes"][:2]
    assert [s["name"] for s in client.get("/api/v1/schedules").get_json()["schedules"]] == ["nightly"]

    paused = client.post("/api/v1/schedules/nightly/pause")
    assert (paused.status_code, paused.get_json()["state"], paused.get_json()["nextFireTimes"]) == (200, "DISABLED", [])
    resumed = client.post("/api/v1/schedules/nightly/resume").get_json()
    assert (resumed["state"], len(resumed["nextFireTimes"])) == ("ENABLED", 5)

    ran = client.post("/api/v1/schedules/nightly/run")
    assert ran.status_code == 202
    execution_id = ran.get_json()["target"]["pipelineExecutionId"]
    run_jobs()
    [entry] = client.get("/api/v1/schedules/nightly/history").get_json()["firings"]
    assert (entry["trigger"], entry["status"], entry["targetStatus"]) == ("run-now", "STARTED", "Succeeded")
    execution = client.get(f"/api/v1/executions/{execution_id}").get_json()
    assert execution["trigger"]["triggerType"] == "Schedule"
    assert execution["variables"] == {"DEPLOY_ENV": "prod"}

    updated = client.put("/api/v1/schedules/nightly", json={**body, "scheduleExpression": "rate(1 hour)"})
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["scheduleExpression"] == "rate(1 hour)"
    assert updated.get_json()["description"] is None  # a PUT replaces the definition

    deleted = client.delete("/api/v1/schedules/nightly")
    assert (deleted.status_code, deleted.data) == (204, b"")
    assert client.get("/api/v1/schedules/nightly").status_code == 404


def test_a_slot_the_scheduler_fires_shows_in_the_history_over_http(
    client: FlaskClient, rt: Runtime, run_jobs: Any
) -> None:
    janitor_project(rt)
    created = client.post("/api/v1/schedules", json=build_schedule("cleanup", "rate(5 minutes)")).get_json()
    slot = created["nextFireTimes"][0]
    fire_due(rt, now=datetime.fromisoformat(slot) + timedelta(seconds=1))
    run_jobs()
    [entry] = client.get("/api/v1/schedules/cleanup/history?limit=5").get_json()["firings"]
    assert (entry["trigger"], entry["slot"], entry["status"]) == ("schedule", slot, "STARTED")
    assert entry["targetStatus"] == "SUCCEEDED"
    build = client.get(f"/api/v1/builds/{entry['target']['buildId']}").get_json()
    assert build["initiator"] == "schedule/cleanup"


def test_invalid_schedules_are_400_with_every_problem_and_its_path(client: FlaskClient, rt: Runtime) -> None:
    response = client.post(
        "/api/v1/schedules",
        json={
            "name": "bad",
            "scheduleExpression": "cron(0 12 * * * *)",
            "scheduleExpressionTimezone": "Europe/Pariss",
            "target": {"pipelineName": "x", "variables": "A=1"},
        },
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "InvalidSpecification"
    assert {p["path"]: p["message"] for p in body["problems"]} == {
        "scheduleExpression": "one of Day-of-month and Day-of-week must be '?' (AWS cron does not combine them)",
        "scheduleExpressionTimezone": (
            "unknown time zone 'Europe/Pariss': use an IANA name such as Europe/Paris or UTC"
        ),
        "target.variables": 'must be an object of names to values, or a list of {"name", "value"}',
    }
    missing = client.post("/api/v1/schedules", json=pipeline_schedule("orphan"))
    assert missing.status_code == 400
    assert missing.get_json()["problems"] == [
        {"path": "target.pipelineName", "line": None, "message": "no pipeline named 'release'"}
    ]
    assert client.get("/api/v1/schedules").get_json()["schedules"] == []


def test_the_other_4xx_answers_are_json(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    assert client.post("/api/v1/schedules", json=pipeline_schedule("once")).status_code == 201
    answers = {
        "duplicate": client.post("/api/v1/schedules", json=pipeline_schedule("once")),
        "not json": client.post("/api/v1/schedules", data="{", headers={"Content-Type": "application/json"}),
        "not an object": client.post("/api/v1/schedules", json=["a"]),
        "unknown get": client.get("/api/v1/schedules/absent"),
        "unknown put": client.put("/api/v1/schedules/absent", json=pipeline_schedule("absent")),
        "unknown delete": client.delete("/api/v1/schedules/absent"),
        "unknown pause": client.post("/api/v1/schedules/absent/pause"),
        "unknown resume": client.post("/api/v1/schedules/absent/resume"),
        "unknown run": client.post("/api/v1/schedules/absent/run"),
        "unknown history": client.get("/api/v1/schedules/absent/history"),
        "renamed": client.put("/api/v1/schedules/once", json=pipeline_schedule("other")),
        "bad limit": client.get("/api/v1/schedules/once/history?limit=0"),
        "bad count": client.get("/api/v1/schedules/once?count=x"),
    }
    statuses = {what: response.status_code for what, response in answers.items()}
    assert statuses == {
        "duplicate": 409,
        "not json": 400,
        "not an object": 400,
        "unknown get": 404,
        "unknown put": 404,
        "unknown delete": 404,
        "unknown pause": 404,
        "unknown resume": 404,
        "unknown run": 404,
        "unknown history": 404,
        "renamed": 400,
        "bad limit": 400,
        "bad count": 400,
    }
    for what, response in answers.items():
        assert response.is_json, what
        assert response.get_json()["message"], what
    assert "no schedule named 'absent'" in answers["unknown run"].get_json()["message"]
    assert "'limit' must be a whole number from 1 to 1000" in answers["bad limit"].get_json()["message"]


def test_run_now_of_a_target_that_cannot_start_is_409_with_the_reason(
    client: FlaskClient, rt: Runtime, repo: GitRepo
) -> None:
    release_pipeline(rt, repo)
    janitor_project(rt, "changing")
    body = {**build_schedule("janitor-run"), "target": {"projectName": "changing"}}
    assert client.post("/api/v1/schedules", json=body).status_code == 201
    janitor_project(rt, "changing", buildspec="ci/build.yml")  # the project now reads its buildspec from a source

    refused = client.post("/api/v1/schedules/janitor-run/run")
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "Conflict"
    assert refused.get_json()["message"].startswith(
        "schedule 'janitor-run' could not start a build of project 'changing': build project 'changing' reads its "
        "buildspec from a source (ci/build.yml)"
    )
    [entry] = client.get("/api/v1/schedules/janitor-run/history").get_json()["firings"]
    assert (entry["status"], entry["target"]["buildId"]) == ("FAILED", None)


def test_schedules_need_the_api_token_like_every_api_route(client: FlaskClient, rt: Runtime) -> None:
    rt_app: Runtime = client.application.extensions["conveyor"]
    rt_app.settings = dataclasses.replace(rt_app.settings, api_token="t0ken")
    assert client.get("/api/v1/schedules").status_code == 401
    assert client.get("/api/v1/schedules", headers={"Authorization": "Bearer t0ken"}).status_code == 200
