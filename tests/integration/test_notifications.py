"""Notifications and commit statuses from real runs: events become deliveries, sent by jobs to local servers that
stand in for Slack, a webhook receiver and GitHub, in the order things happened; failing targets are retried and
given up without touching what they tell about."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from conveyor.build import views as build_views
from conveyor.config import Settings
from conveyor.notify import rules
from conveyor.notify.commit_statuses import COMMIT_STATUSES
from conveyor.notify.signing import verify
from conveyor.notify.wake import wake_readers
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.conftest import settings_for
from tests.support.approvals import answer, approval_action
from tests.support.gitrepo import GitRepo
from tests.support.notifications import GITHUB_TOKEN, SIGNING_SECRET, SLACK_TOKEN, deliveries, notify, rule
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, build_action, pipeline, source_action
from tests.support.receivers import Received, Receiver, receiver

PUBLIC = "https://conveyor.example"
SLACK_HOOK_PATH = "/services/T0001/B0002/hookKeyXYZ123"
P = "codepipeline-pipeline-"


@pytest.fixture
def settings(
    tmp_path: Path, database_url: str, redis_client: redis.Redis, slack_api: Receiver, github_api: Receiver
) -> Settings:
    return settings_for(
        tmp_path,
        database_url,
        github_api_url=f"{github_api.url}/api/v3",  # as GitHub Enterprise serves it
        github_token=GITHUB_TOKEN,
        slack_api_url=f"{slack_api.url}/api/",
        public_url=PUBLIC,
        notify_backoff_seconds=0.02,
        notify_max_attempts=3,
    )


def _gated(name: str, url: str) -> str:
    stages = [
        {"name": "Source", "actions": [source_action(url)]},
        {"name": "Build", "actions": [build_action()]},
        {"name": "Gate", "actions": [approval_action("Review")]},
    ]
    return as_yaml({"pipeline": {"name": name, "pipelineType": "V2", "stages": stages}})


def _signed_by(request: Received, secret: str) -> bool:
    """The signature checked as a receiver would, without Conveyor's code."""
    fields = dict(part.split("=", 1) for part in request.headers["x-conveyor-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"]) and abs(time.time() - int(fields["t"])) < 300


def test_a_run_through_workers_is_told_to_slack_a_webhook_and_github_in_order(
    rt: Runtime, repo: GitRepo, run_jobs: Any, slack_api: Receiver, webhook_receiver: Receiver, github_api: Receiver
) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, _gated("shop", repo.url))
    wake_readers(rt)  # a scheduler sees the GitHub token: the commit statuses start from here
    slack_events = [f"{P}pipeline-execution-started", "codebuild-project-build-state-succeeded"]
    slack_events += [f"{P}manual-approval-needed", f"{P}pipeline-execution-succeeded"]
    rules.create_rule(
        rt, rule("to-slack", slack_events, {"type": "slack", "webhookUrl": slack_api.url + SLACK_HOOK_PATH})
    )
    phases = ["codebuild-project-build-phase-success", "codebuild-project-build-phase-failure"]
    target = {"type": "webhook", "url": f"{webhook_receiver.url}/conveyor", "secret": SIGNING_SECRET}
    rules.create_rule(rt, rule("to-hook", [*phases, f"{P}pipeline-execution-succeeded"], target))

    execution_id = pipelines.start_pipeline(rt, "shop", revision=sha)
    run_jobs()
    notify(rt, run_jobs)
    answer(rt, "shop", execution_id, "Gate", "Review", summary="fine")
    run_jobs()
    notify(rt, run_jobs)

    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"
    link = f"<{PUBLIC}/api/v1/executions/{execution_id}|{execution_id[-8:]}>"
    [build] = build_views.list_builds(rt, "app", 5)
    build_link = f"<{PUBLIC}/api/v1/builds/{build['id']}|{build['id']}>"
    assert [r.path for r in slack_api.requests] == [SLACK_HOOK_PATH] * 4
    assert [body["text"] for body in slack_api.bodies()] == [
        f":arrow_forward: Pipeline *shop* execution {link} STARTED",
        f":white_check_mark: Build {build_link} of *app* SUCCEEDED",
        f":raised_hand: Approval needed in pipeline *shop*: *Gate*/*Review* (execution {link})",
        f":white_check_mark: Pipeline *shop* execution {link} SUCCEEDED",
    ]

    assert all(_signed_by(r, SIGNING_SECRET) for r in webhook_receiver.requests)
    assert all(
        verify(SIGNING_SECRET, r.headers["x-conveyor-signature"], r.body, time.time())
        for r in webhook_receiver.requests
    )
    bodies = webhook_receiver.bodies()
    ran = [
        (p["phaseType"], p["phaseStatus"])
        for p in build_views.get_build(rt, build["id"])["phases"]
        if p["phaseType"] not in ("SUBMITTED", "QUEUED", "COMPLETED")
    ]
    told = [(b["detail"]["completed-phase"], b["detail"]["completed-phase-status"]) for b in bodies[:-1]]
    assert told == ran
    assert ran[0] == ("PROVISIONING", "SUCCEEDED")
    assert ran[-1][0] == "FINALIZING"
    assert {b["source"] for b in bodies[:-1]} == {"conveyor.codebuild"}
    assert bodies[-1]["detail-type"] == "CodePipeline Pipeline Execution State Change"
    assert (bodies[-1]["detail"]["execution-id"], bodies[-1]["detail"]["state"]) == (execution_id, "SUCCEEDED")
    assert bodies[-1]["resources"] == ["arn:aws:codepipeline:us-east-1:000000000000:shop"]
    assert [r.headers["x-conveyor-event"] for r in webhook_receiver.requests][-1] == f"{P}pipeline-execution-succeeded"
    assert len({r.headers["x-conveyor-delivery"] for r in webhook_receiver.requests}) == len(webhook_receiver.requests)

    path = f"/api/v3/repos/acme/app/statuses/{sha}"
    assert [(r.path, r.json()["state"]) for r in github_api.requests] == [(path, "pending"), (path, "success")]
    assert {r.headers["authorization"] for r in github_api.requests} == {f"Bearer {GITHUB_TOKEN}"}
    final = github_api.requests[-1].json()
    assert final["context"] == "conveyor/shop"
    assert final["target_url"] == f"{PUBLIC}/api/v1/executions/{execution_id}"
    assert final["description"] == f"shop: execution {execution_id[-8:]} succeeded"


def test_a_start_without_a_commit_gets_its_pending_status_once_the_source_has_fetched_it(
    rt: Runtime, repo: GitRepo, run_jobs: Any, github_api: Receiver
) -> None:
    failing = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo broken && exit 3\n"
    sha = repo.commit({"buildspec.yml": failing})
    definitions.create_pipeline(rt, as_yaml(pipeline("shop", repo.url, repository_id="Acme/App")))
    plain_git = pipeline("elsewhere", repo.url)  # a Git source whose URL is no GitHub repository's
    source = plain_git["pipeline"]["stages"][0]["actions"][0]
    source["actionTypeId"]["provider"] = "Git"
    source["configuration"].pop("FullRepositoryId")
    definitions.create_pipeline(rt, as_yaml(plain_git))
    wake_readers(rt)

    failed = pipelines.start_pipeline(rt, "shop")
    other = pipelines.start_pipeline(rt, "elsewhere")
    run_jobs()
    notify(rt, run_jobs)

    assert views.get_execution(rt, failed)["status"] == "Failed"
    assert views.get_execution(rt, other)["status"] == "Failed"
    path = f"/api/v3/repos/Acme/App/statuses/{sha}"
    assert [(r.path, r.json()["state"]) for r in github_api.requests] == [(path, "pending"), (path, "failure")]
    assert github_api.requests[-1].json()["description"].startswith(f"shop: execution {failed[-8:]} failed: ")
    statuses = {d.status for d in deliveries(rt, COMMIT_STATUSES)}
    assert statuses == {"Delivered", "Skipped"}  # starts without a known commit, and the plain Git source's
    told = {d.event_type: d.status for d in deliveries(rt, COMMIT_STATUSES) if d.event["detail"]["pipeline"] == "shop"}
    assert told == {  # the pending status is told when the commit became known, whenever the start is read
        "codepipeline-pipeline-pipeline-execution-started": "Skipped",
        "codepipeline-pipeline-action-execution-succeeded": "Delivered",
        "codepipeline-pipeline-pipeline-execution-failed": "Delivered",
    }


def test_chat_post_message_through_slack_sdk_with_the_rules_token_or_the_setting(
    rt: Runtime, run_jobs: Any, slack_api: Receiver
) -> None:
    target = {"type": "slack", "channel": "#deploys", "token": SLACK_TOKEN}
    rules.create_rule(rt, rule("chat", [f"{P}pipeline-execution-failed"], target))

    sent = rules.send_test(rt, "chat")
    assert sent["status"] == "Pending"
    notify(rt, run_jobs)

    [request] = slack_api.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
    assert request.json()["channel"] == "#deploys"
    assert request.json()["text"] == ":wave: A test notification from Conveyor for the rule chat"
    [delivery] = rules.list_deliveries(rt, "chat")
    assert (delivery["status"], delivery["attempts"], delivery["lastError"]) == ("Delivered", 1, None)


def test_a_failing_target_is_retried_then_given_up_and_the_pipeline_never_notices(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    def flaky(request: Received) -> tuple[int, Any]:
        return (404, {"message": "no such hook"}) if request.path.startswith("/gone") else (503, "busy")

    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("steady", repo.url)))
    told = [f"{P}pipeline-execution-started", f"{P}pipeline-execution-succeeded"]
    with receiver(flaky) as server:
        query_token = "sig=q-token-98765"
        target = {"type": "webhook", "url": f"{server.url}/flaky?{query_token}", "secret": SIGNING_SECRET}
        rules.create_rule(rt, rule("flaky", told, target))
        rules.create_rule(rt, rule("gone", told, {**target, "url": f"{server.url}/gone"}))
        execution_id = pipelines.start_pipeline(rt, "steady")
        run_jobs()
        notify(rt, run_jobs)

    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"
    flaky_rule = rules.list_deliveries(rt, "flaky")
    assert [(d["eventType"], d["status"], d["attempts"]) for d in reversed(flaky_rule)] == [
        (f"{P}pipeline-execution-started", "Failed", 3),
        (f"{P}pipeline-execution-succeeded", "Failed", 3),
    ]
    error = flaky_rule[0]["lastError"]
    assert "503" in error
    assert query_token not in error
    assert "q-token" not in error
    attempts = [r.headers["x-conveyor-delivery"] for r in server.requests if r.path.startswith("/flaky")]
    assert len(attempts) == 6
    assert len(set(attempts[:3])) == len(set(attempts[3:])) == 1  # each delivery's attempts, one after the other
    gone = rules.list_deliveries(rt, "gone")
    assert [(d["status"], d["attempts"]) for d in gone] == [("Failed", 1), ("Failed", 1)]  # a 404 is not retried
    assert "404" in gone[0]["lastError"]
