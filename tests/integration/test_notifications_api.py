"""Notification rules over HTTP and from the command line: created, listed, tested, deleted; bad rules refused
with every problem at its field; secrets never in an answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result
from flask.testing import FlaskClient

from conveyor.cli.main import main
from conveyor.config import Settings
from conveyor.runtime import Runtime
from tests.conftest import settings_for
from tests.support.cli import settings_environment
from tests.support.notifications import SIGNING_SECRET, SLACK_TOKEN, notify, rule
from tests.support.receivers import Receiver

P = "codepipeline-pipeline-"
HOOK_KEY = "T0001/B0002/hookKeyXYZ123"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_client: redis.Redis, slack_api: Receiver) -> Settings:
    return settings_for(tmp_path, database_url, slack_api_url=f"{slack_api.url}/api/")


def _rules(webhook_receiver: Receiver, slack_api: Receiver) -> list[dict[str, Any]]:
    return [
        rule(
            "hook",
            [f"{P}pipeline-execution-failed"],
            {"type": "webhook", "url": f"{webhook_receiver.url}/in?key=k-998877", "secret": SIGNING_SECRET},
        ),
        rule(
            "incoming",
            [f"{P}manual-approval-needed"],
            {"type": "slack", "webhookUrl": f"{slack_api.url}/services/{HOOK_KEY}"},
        ),
        rule(
            "chat",
            ["codedeploy-application-deployment-failed", "codedeploy-application-deployment-rolled-back"],
            {"type": "slack", "channel": "#ops", "token": SLACK_TOKEN},
            applications=["shop"],
        ),
        rule(
            "bus",
            ["codebuild-project-build-state-failed"],
            {"type": "eventbridge", "eventBusName": "ci", "region": "eu-west-1"},
        ),
    ]


def _no_secret(text: str) -> None:
    for secret in (SIGNING_SECRET, SLACK_TOKEN, HOOK_KEY, "hookKeyXYZ123", "k-998877"):
        assert secret not in text


def test_rules_are_created_listed_tested_and_deleted_and_never_show_a_secret(
    client: FlaskClient, rt: Runtime, run_jobs: Any, webhook_receiver: Receiver, slack_api: Receiver
) -> None:
    for document in _rules(webhook_receiver, slack_api):
        created = client.post("/api/v1/notification-rules", json=document)
        assert created.status_code == 201, created.get_json()
        _no_secret(created.get_data(as_text=True))
    shown = {r["name"]: r for r in client.get("/api/v1/notification-rules").get_json()["notificationRules"]}
    assert list(shown) == ["bus", "chat", "hook", "incoming"]
    assert shown["hook"]["target"] == {"type": "webhook", "url": f"{webhook_receiver.url}/in?***", "secret": "***"}
    assert shown["incoming"]["target"] == {"type": "slack", "webhookUrl": f"{slack_api.url}/services/***"}
    assert shown["chat"]["target"] == {"type": "slack", "channel": "#ops", "token": "***"}
    assert shown["chat"]["resources"] == {"applications": ["shop"]}
    assert shown["bus"]["target"] == {"type": "eventbridge", "eventBusName": "ci", "region": "eu-west-1"}

    for name in ("hook", "incoming", "chat"):
        answer = client.post(f"/api/v1/notification-rules/{name}/test")
        assert answer.status_code == 202
        assert answer.get_json()["status"] == "Pending"
    notify(rt, run_jobs)
    for name in ("hook", "incoming", "chat"):
        listed = client.get(f"/api/v1/notification-rules/{name}/deliveries")
        [delivery] = listed.get_json()["deliveries"]
        assert (delivery["eventType"], delivery["status"]) == ("conveyor-notification-test", "Delivered")
        _no_secret(listed.get_data(as_text=True))
    assert webhook_receiver.requests[0].json()["source"] == "conveyor.notifications"
    assert [r.path for r in slack_api.requests] == [f"/services/{HOOK_KEY}", "/api/chat.postMessage"]
    assert client.get("/api/v1/notification-rules/hook").get_json()["deliveries"] == {"Delivered": 1}
    assert client.get("/api/v1/commit-statuses").get_json() == {"deliveries": []}

    assert client.delete("/api/v1/notification-rules/hook").status_code == 204
    for call in (client.get, client.delete):
        missing = call("/api/v1/notification-rules/hook")
        assert missing.status_code == 404
        assert missing.get_json()["error"] == "NotFound"
    assert client.post("/api/v1/notification-rules/hook/test").status_code == 404
    assert client.get("/api/v1/notification-rules/hook/deliveries").status_code == 404


def test_bad_rules_are_refused_with_each_problem_at_its_field(client: FlaskClient, rt: Runtime) -> None:
    bad = {
        "name": "bad name!",
        "eventTypeIds": [f"{P}pipeline-execution-started", "pipeline-exploded"],
        "resources": {"clusters": ["x"]},
        "target": {"type": "webhook", "url": "ftp://example.com/in", "secret": "short"},
        "extra": 1,
    }
    answer = client.post("/api/v1/notification-rules", json=bad)
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["error"] == "InvalidSpecification"
    problems = {p["path"]: p["message"] for p in body["problems"]}
    assert set(problems) == {"name", "eventTypeIds[1]", "resources.clusters", "target.url", "target.secret", "extra"}
    assert "pipeline-exploded" in problems["eventTypeIds[1]"]
    assert "short" not in answer.get_data(as_text=True)  # not even a secret that was refused

    unknown_type = client.post("/api/v1/notification-rules", json={**bad, "target": {"type": "pager"}})
    paths = [p["path"] for p in unknown_type.get_json()["problems"]]
    assert "target.type" in paths
    slack = {
        "name": "s",
        "eventTypeIds": [f"{P}pipeline-execution-failed"],
        "target": {"type": "slack", "channel": "#x"},
    }
    no_token = client.post("/api/v1/notification-rules", json=slack).get_json()
    assert [p["path"] for p in no_token["problems"]] == ["target.token"]  # and no slack_bot_token in the settings
    not_json = client.post("/api/v1/notification-rules", data="{", content_type="application/json")
    assert not_json.status_code == 400
    assert not_json.get_json()["error"] == "InvalidRequest"

    good = {"name": "dup", "eventTypeIds": [f"{P}pipeline-execution-failed"], "target": {"type": "eventbridge"}}
    assert client.post("/api/v1/notification-rules", json=good).status_code == 201
    again = client.post("/api/v1/notification-rules", json=good)
    assert again.status_code == 409
    assert "dup" in again.get_json()["message"]


@pytest.fixture
def cli(settings: Settings, rt: Runtime) -> Any:
    env = settings_environment(settings)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["--direct", *args], env=env, catch_exceptions=False)

    return invoke


def test_the_command_line_creates_tests_and_deletes_rules(
    cli: Any, rt: Runtime, run_jobs: Any, tmp_path: Path, webhook_receiver: Receiver, slack_api: Receiver
) -> None:
    path = tmp_path / "rule.yml"
    path.write_text(json.dumps(_rules(webhook_receiver, slack_api)[0]))
    created = cli("notifications", "create", "-f", str(path))
    assert created.exit_code == 0, created.output
    assert created.output.strip() == "created notification rule hook (webhook, 1 events)"
    shown = cli("notifications", "get", "hook")
    assert json.loads(shown.output)["target"]["secret"] == "***"
    _no_secret(shown.output + cli("notifications", "list", "-o", "json").output)

    queued = cli("notifications", "test", "hook", "--wait", "0")
    assert queued.exit_code == 0
    assert "Pending after 0 attempt(s)" in queued.output
    notify(rt, run_jobs)
    listed = json.loads(cli("notifications", "deliveries", "hook", "-o", "json").output)
    assert [(d["status"], d["attempts"]) for d in listed] == [("Delivered", 1)]
    assert len(webhook_receiver.requests) == 1

    kinds = cli("notifications", "event-types").output.splitlines()
    assert f"{P}manual-approval-needed" in kinds
    assert "codedeploy-application-deployment-rolled-back *" in kinds
    path.write_text("name: broken\neventTypeIds: [nope]\ntarget: {type: webhook, url: x}\n")
    refused = cli("notifications", "create", "-f", str(path))
    assert refused.exit_code == 1
    assert "eventTypeIds[0]" in refused.output
    assert "target.url" in refused.output
    assert cli("notifications", "delete", "hook").exit_code == 0
    assert cli("notifications", "get", "hook").exit_code == 1
