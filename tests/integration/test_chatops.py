"""Slack slash commands and buttons through the web app and real RQ workers on Redis and SQL: signatures checked,
every command answered at once and carried out by a job, replies posted to a local server standing in for Slack's
`response_url`, roles enforced and every command audited."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner
from flask.testing import FlaskClient

from conveyor.chatops import service as chat
from conveyor.chatops.messages import Reply
from conveyor.chatops.replies import ReplyFailed, post
from conveyor.cli.main import main
from conveyor.config import Settings
from conveyor.deploy import deployments
from conveyor.dispatch import Kind
from conveyor.pipeline import definitions, views
from conveyor.recovery import give_up
from conveyor.runtime import Runtime
from conveyor.schedules import registry as schedules
from tests.conftest import settings_for
from tests.support.approvals import gated_pipeline, stage_of
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.hosts import app_revision, make_fleet
from tests.support.hosts import deploy as deploy_bundle
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline
from tests.support.schedules import pipeline_schedule, release_pipeline
from tests.support.slack import SIGNING_SECRET, TEAM, ResponseUrls, button_form, response_urls, signed, slash_form

DEPLOYER, OPERATOR, VIEWER = "U0DEPLOYER", "U0OPERATOR", "U0VIEWER"


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_client: redis.Redis) -> Settings:
    roles = (f"{TEAM}/{DEPLOYER}=deployer", f"{TEAM}/{OPERATOR}=operator", f"{TEAM}/*=viewer")
    return settings_for(tmp_path, database_url, slack_signing_secret=SIGNING_SECRET, slack_roles=roles)


@pytest.fixture
def slack() -> Iterator[ResponseUrls]:
    with response_urls() as urls:
        yield urls


class Chat:
    """Sends commands as Slack does, and works the queues as the workers would."""

    def __init__(self, client: FlaskClient, slack: ResponseUrls, run_jobs: Any) -> None:
        self.client, self.slack, self.run_jobs = client, slack, run_jobs
        self.sent = 0

    def command(self, text: str, user: str = OPERATOR) -> tuple[dict[str, Any], str]:
        """Send `/conveyor text`; answers the acknowledgement and the name of its response URL."""
        self.sent += 1
        name = f"command-{self.sent}"
        body = slash_form(text, user, self.slack.url(name))
        response = self.client.post("/chatops/slack", data=body, headers=signed(body))
        assert response.status_code == 200, response.get_json()
        return response.get_json(), name

    def reply(self, text: str, user: str = OPERATOR) -> dict[str, Any]:
        """Send `/conveyor text`, let the workers carry it out, and answer the one reply it posted."""
        ack, name = self.command(text, user)
        assert ack["text"].startswith("Working on"), ack
        self.run_jobs()
        [reply] = self.slack.wait_for(name)
        return reply

    def press(self, button: dict[str, Any], user: str = OPERATOR) -> dict[str, Any]:
        self.sent += 1
        name = f"press-{self.sent}"
        body = button_form(button, user, self.slack.url(name))
        response = self.client.post("/chatops/slack/interactions", data=body, headers=signed(body))
        assert (response.status_code, response.data) == (200, b"")
        self.run_jobs()
        [reply] = self.slack.wait_for(name)
        return reply


@pytest.fixture
def chat_client(client: FlaskClient, slack: ResponseUrls, run_jobs: Any) -> Chat:
    return Chat(client, slack, run_jobs)


def buttons_of(reply: dict[str, Any]) -> list[dict[str, Any]]:
    return [element for block in reply.get("blocks", []) if block["type"] == "actions" for element in block["elements"]]


def audit(rt: Runtime) -> list[dict[str, Any]]:
    return chat.list_commands(rt)


# -- the edge ---------------------------------------------------------------------------------------------------


def test_unsigned_forged_and_stale_requests_are_refused_and_record_nothing(client: FlaskClient, rt: Runtime) -> None:
    body = slash_form("run web", OPERATOR, "http://127.0.0.1:9/unused")
    forged = signed(body, secret="not-the-secret")
    stale = signed(body, at=time.time() - 301)
    cases = [
        ({"Content-Type": "application/x-www-form-urlencoded"}, "missing X-Slack-Request-Timestamp header"),
        (forged, "X-Slack-Signature does not match the request"),
        (stale, "X-Slack-Request-Timestamp is more than 5 minutes from now: a replay, or a bad clock"),
        (
            signed(body, at=time.time() + 600),
            "X-Slack-Request-Timestamp is more than 5 minutes from now: a replay, or a bad clock",
        ),
    ]
    for headers, message in cases:
        for path in ("/chatops/slack", "/chatops/slack/interactions"):
            response = client.post(path, data=body, headers=headers)
            assert response.status_code == 401
            assert response.get_json() == {"error": "Unauthorized", "message": message}
    assert audit(rt) == []


def test_signed_requests_that_are_not_slacks_shape_are_400(client: FlaskClient, rt: Runtime) -> None:
    as_json = b'{"text": "status"}'
    response = client.post(
        "/chatops/slack", data=as_json, headers={**signed(as_json), "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "application/x-www-form-urlencoded" in response.get_json()["message"]
    no_user = b"team_id=T0TEAM&text=status"
    response = client.post("/chatops/slack", data=no_user, headers=signed(no_user))
    assert (response.status_code, response.get_json()["message"]) == (400, "the form has no user_id field")
    bad_payload = b"payload=%7Bnot+json"
    response = client.post("/chatops/slack/interactions", data=bad_payload, headers=signed(bad_payload))
    assert response.status_code == 400
    assert "the payload field is not JSON" in response.get_json()["message"]
    assert audit(rt) == []


def test_without_a_signing_secret_nothing_is_accepted(tmp_path: Path, database_url: str, redis_client: Any) -> None:
    from handlers.app import create_app

    app = create_app({"data_dir": tmp_path / "other", "database_url": database_url, "redis_url": "redis://127.0.0.1:1"})
    body = slash_form("help", OPERATOR, "http://127.0.0.1:9/unused")
    response = app.test_client().post("/chatops/slack", data=body, headers=signed(body))
    assert response.status_code == 401
    assert "no Slack signing secret configured" in response.get_json()["message"]
    app.extensions["conveyor"].db.dispose()


def test_help_and_usage_are_answered_at_once_and_audited(chat_client: Chat, rt: Runtime) -> None:
    ack, _ = chat_client.command("help", user="U0STRANGER")
    assert ack["response_type"] == "ephemeral"
    assert "`/conveyor run <pipeline> [branch|sha] [NAME=VALUE …]`" in ack["text"]
    assert ack["text"].endswith("You are viewer.")
    ack, _ = chat_client.command("deploy shop")
    assert ack["text"].startswith("too few arguments for deploy: `deploy <application> <deployment-group>")
    ack, _ = chat_client.command("frobnicate everything")
    assert ack["text"].startswith("unknown command 'frobnicate'")
    assert "Usage:" in ack["text"]
    ack, _ = chat_client.command("approve web 'Deploy")
    assert ack["text"].startswith("cannot read the command: No closing quotation")
    records = audit(rt)
    assert [(r["text"], r["status"], r["verb"]) for r in records[::-1]] == [
        ("help", "answered", "help"),
        ("deploy shop", "answered", None),
        ("frobnicate everything", "answered", None),
        ("approve web 'Deploy", "answered", None),
    ]
    assert all("responseUrl" not in r and "response_url" not in r for r in records)


def test_a_command_the_role_does_not_allow_is_refused_with_the_reason(
    chat_client: Chat, rt: Runtime, repo: GitRepo
) -> None:
    definitions.create_pipeline(rt, gated_pipeline("web", repo.url))
    ack, name = chat_client.command("run web", user=VIEWER)
    assert ack == {"response_type": "ephemeral", "text": "Refused: `run` needs the operator role; you are viewer"}
    chat_client.run_jobs()
    assert views.list_executions(rt, "web") == []
    assert chat_client.slack.replies(name) == []  # a refusal is the acknowledgement; no job runs
    [refused] = audit(rt)
    assert (refused["userId"], refused["role"], refused["status"]) == (VIEWER, "viewer", "refused")


def test_a_workspace_without_a_role_may_only_ask_for_help(client: FlaskClient, rt: Runtime) -> None:
    body = slash_form("status", "U0ELSEWHERE", "http://127.0.0.1:9/unused", team="T0OTHER")
    response = client.post("/chatops/slack", data=body, headers=signed(body))
    text = response.get_json()["text"]
    assert text.startswith("Refused: you have no Conveyor role in workspace T0OTHER")
    assert "T0OTHER/U0ELSEWHERE" in text


# -- commands carried out by jobs -------------------------------------------------------------------------------


def test_run_then_approve_from_the_status_buttons(chat_client: Chat, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, gated_pipeline("web", repo.url))
    ack, _ = chat_client.command("run web")
    assert ack == {"response_type": "ephemeral", "text": "Working on `run web`…"}
    chat_client.run_jobs()
    [execution] = views.list_executions(rt, "web")
    replies = chat_client.slack.replies("command-1")
    assert replies == [
        {
            "response_type": "in_channel",
            "text": f"<@{OPERATOR}> started *web*: execution `{execution['pipelineExecutionId']}`",
            "blocks": [replies[0]["blocks"][0]],
        }
    ]
    assert execution["trigger"] == {
        "triggerType": "StartPipelineExecution",
        "triggerDetail": f"started by Slack user {OPERATOR.lower()} ({TEAM}/{OPERATOR})",
    }

    status = chat_client.reply("status web", user=VIEWER)
    assert status["response_type"] == "ephemeral"
    assert "• Gate: InProgress (Review InProgress)" in status["text"]
    approve, reject = buttons_of(status)
    assert (approve["value"], reject["value"]) == ("approve web Gate Review", "reject web Gate Review")

    refused = chat_client.press(approve, user=VIEWER)  # a viewer's press is refused, in chat
    assert refused["text"] == "Refused: `approve` needs the operator role; you are viewer"
    assert stage_of(rt, execution["pipelineExecutionId"], "Gate")["status"] == "InProgress"

    approved = chat_client.press(approve)
    assert approved["response_type"] == "in_channel"
    assert approved["text"] == f"<@{OPERATOR}> approved Review in Gate of *web*"
    assert stage_of(rt, execution["pipelineExecutionId"], "Gate")["status"] == "Succeeded"
    review = stage_of(rt, execution["pipelineExecutionId"], "Gate")["actions"][0]
    assert review["summary"] == f"Approved by Slack user {OPERATOR.lower()} ({TEAM}/{OPERATOR})"

    again = chat_client.press(approve)  # nobody waits for that approval any more
    assert again["text"] == (
        "Could not do `approve web Gate Review`: "
        "no approval named 'Review' in stage 'Gate' of pipeline 'web' is waiting"
    )
    rejected = chat_client.reply('reject web Release Ship "not on a Friday"')
    assert rejected["text"] == f"<@{OPERATOR}> rejected Ship in Release of *web*: not on a Friday"
    assert views.get_execution(rt, execution["pipelineExecutionId"])["status"] == "Failed"
    statuses = [(r["source"], r["verb"], r["status"]) for r in audit(rt)[::-1]]
    assert statuses == [
        ("slash", "run", "done"),
        ("slash", "status", "done"),
        ("button", "approve", "refused"),
        ("button", "approve", "done"),
        ("button", "approve", "failed"),
        ("slash", "reject", "done"),
    ]


def test_run_at_a_branch_head_with_variables(chat_client: Chat, rt: Runtime, repo: GitRepo) -> None:
    document = pipeline("web", repo.url, variables=[{"name": "TARGET", "defaultValue": "staging"}])
    definitions.create_pipeline(rt, as_yaml(document))
    repo.branch("feature")
    feature = repo.commit({"app.py": "print('feature')\n"}, "feature work")
    repo.branch("main")

    reply = chat_client.reply("run web feature TARGET=production")

    [execution] = views.list_executions(rt, "web")
    assert reply["text"].endswith(
        f"started *web* at feature ({feature[:12]}): execution `{execution['pipelineExecutionId']}`"
    )
    detail = views.get_execution(rt, execution["pipelineExecutionId"])
    assert detail["sourceRevisions"][0]["revisionId"] == feature
    assert detail["variables"] == {"TARGET": "production"}


def test_what_cannot_be_done_is_answered_with_the_services_reason(chat_client: Chat, rt: Runtime) -> None:
    assert chat_client.reply("run nope")["text"] == "Could not do `run nope`: no pipeline named 'nope'"
    assert (
        chat_client.reply("stop 00000000-0000")["text"]
        == "Could not do `stop 00000000-0000`: no pipeline execution 00000000-0000"
    )
    records = audit(rt)
    assert [r["status"] for r in records] == ["failed", "failed"]
    assert records[1]["detail"] == "Could not do `run nope`: no pipeline named 'nope'"


def test_stop_and_builds(chat_client: Chat, rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("web", repo.url)))
    chat_client.reply("run web")
    chat_client.run_jobs()  # the pipeline runs to its end: one build of project app
    [finished] = views.list_executions(rt, "web")
    assert finished["status"] == "Succeeded"
    builds = chat_client.reply("builds app", user=VIEWER)
    assert builds["text"].startswith("*app*, latest builds:\n• #1 `app:")
    assert builds["text"].endswith(": SUCCEEDED (COMPLETED)")
    assert chat_client.reply("builds nothing-here")["text"] == "Project *nothing-here* has no builds."

    definitions.create_pipeline(rt, gated_pipeline("gated", repo.url))
    chat_client.reply("run gated")
    waiting = views.list_executions(rt, "gated")[0]["pipelineExecutionId"]
    stopped = chat_client.reply(f"stop {waiting} abandon")
    assert stopped["text"] == f"<@{OPERATOR}> stopped *gated* execution `{waiting}`: abandoned"
    assert views.get_execution(rt, waiting)["status"] == "Stopped"
    again = chat_client.reply(f"stop {waiting}")
    assert again["text"].startswith(f"Could not do `stop {waiting}`: execution {waiting} is Stopped")


def test_deploy_and_rollback(chat_client: Chat, rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    first = deploy_bundle(rt, app_revision("v1"))
    fleet.work()
    second = deploy_bundle(rt, app_revision("v2"))
    fleet.work()
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v2</h1>"

    refused, _ = chat_client.command("rollback shop web", user=OPERATOR)
    assert refused["text"] == "Refused: `rollback` needs the deployer role; you are operator"
    reply = chat_client.reply("rollback shop web", user=DEPLOYER)
    fleet.work()
    rollback_id = reply["text"].split("`")[1]
    assert reply["text"] == (
        f"<@{DEPLOYER}> started deployment `{rollback_id}` of shop/web: rolling back to the revision of "
        f"{first['deploymentId']}"
    )
    [rollback_button] = buttons_of(reply)
    assert rollback_button["value"] == "rollback shop web"
    assert deployments.get_deployment(rt, rollback_id)["status"] == "Succeeded"
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"

    again = chat_client.reply(f"deploy shop web {second['deploymentId']}", user=DEPLOYER)
    fleet.work()
    assert again["text"].endswith("of shop/web: deploying")
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v2</h1>"
    current = chat_client.reply("deploy shop web", user=DEPLOYER)  # the group's current revision, once more
    fleet.work()
    redeployed = deployments.get_deployment(rt, current["text"].split("`")[1])
    assert redeployed["status"] == "Succeeded"
    assert redeployed["revision"] == second["revision"]
    assert redeployed["description"] == f"deployed by Slack user {DEPLOYER.lower()} ({TEAM}/{DEPLOYER})"

    wrong = chat_client.reply(f"deploy shop other {second['deploymentId']}", user=DEPLOYER)
    assert wrong["text"].endswith(f"deployment {second['deploymentId']} was of shop/web, not of shop/other")
    bad = chat_client.reply("deploy shop web v3", user=DEPLOYER)
    assert bad["text"].endswith("'v3' is neither a deployment id (d-…) nor an S3 URL (s3://bucket/key)")


def test_rollback_stops_a_deployment_in_progress(chat_client: Chat, rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    deploy_bundle(rt, app_revision("v1"))
    fleet.work()
    running = deploy_bundle(rt, app_revision("v2"))
    reply = chat_client.reply("rollback shop web", user=DEPLOYER)
    assert reply["text"] == f"<@{DEPLOYER}> stopped deployment `{running['deploymentId']}` of shop/web, rolling back"
    fleet.work()
    stopped = deployments.get_deployment(rt, running["deploymentId"])
    assert stopped["status"] == "Stopped"
    rollback = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Succeeded"
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"


def test_nothing_to_roll_back_to(chat_client: Chat, rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    deploy_bundle(rt, app_revision("v1"))
    fleet.work()
    reply = chat_client.reply("rollback shop web", user=DEPLOYER)
    assert reply["text"] == (
        "Could not do `rollback shop web`: "
        "no earlier revision of this group succeeded: there is nothing to roll back to"
    )


# -- replies and the audit log ----------------------------------------------------------------------------------


def test_a_reply_slack_does_not_take_is_recorded_not_retried(chat_client: Chat, rt: Runtime) -> None:
    chat_client.slack.status = 404  # the response URL expired
    _ack, name = chat_client.command("status")
    chat_client.run_jobs()
    assert len(chat_client.slack.wait_for(name)) == 1
    [record] = audit(rt)
    assert record["status"] == "done"
    assert record["repliesSent"] == 0
    assert record["detail"].endswith("(reply not delivered: Slack answered the reply with HTTP 404: ok)")


def test_at_most_five_replies_go_to_one_response_url(slack: ResponseUrls) -> None:
    for sent in range(5):
        post(slack.url("five"), Reply(f"reply {sent + 1}"), sent)
    with pytest.raises(ReplyFailed, match="at most 5 replies"):
        post(slack.url("five"), Reply("reply 6"), 5)
    assert [r["text"] for r in slack.replies("five")] == [f"reply {n}" for n in range(1, 6)]


def test_a_lost_command_job_is_recorded_failed_and_never_run_again(
    chat_client: Chat, rt: Runtime, repo: GitRepo
) -> None:
    definitions.create_pipeline(rt, gated_pipeline("web", repo.url))
    chat_client.command("run web")
    [record] = audit(rt)
    give_up(rt, Kind.CHAT_COMMAND, record["id"], "the worker running it was lost")
    chat_client.run_jobs()  # the job still queued finds its command no longer accepted
    assert views.list_executions(rt, "web") == []
    [record] = audit(rt)
    assert (record["status"], record["detail"]) == ("failed", "the worker running it was lost")


def test_the_audit_log_through_the_api(chat_client: Chat, client: FlaskClient) -> None:
    chat_client.command("help", user=VIEWER)
    chat_client.command("run web", user=VIEWER)
    body = client.get(f"/api/v1/chatops/commands?user={VIEWER}&limit=10").get_json()
    assert [(c["text"], c["status"], c["role"]) for c in body["commands"]] == [
        ("run web", "refused", "viewer"),
        ("help", "answered", "viewer"),
    ]
    assert "slack.url" not in json.dumps(body)
    assert "command-" not in json.dumps(body)
    assert client.get("/api/v1/chatops/commands?limit=0").status_code == 400


def test_the_audit_log_on_the_command_line(chat_client: Chat, settings: Settings) -> None:
    chat_client.command("help", user=VIEWER)
    chat_client.command("deploy shop web", user=VIEWER)
    env = {**settings_environment(settings), "COLUMNS": "240"}  # one table row per command
    shown = CliRunner().invoke(main, ["--direct", "chatops", "log", "--user", VIEWER], env=env)
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert any("deploy shop web" in line and "refused" in line and "viewer" in line for line in lines), shown.output
    assert any("help" in line and "answered" in line for line in lines), shown.output
    as_json = CliRunner().invoke(main, ["--direct", "chatops", "log", "--output", "json", "--limit", "1"], env=env)
    assert [c["text"] for c in json.loads(as_json.output)] == ["deploy shop web"]


def test_schedules_from_chat(chat_client: Chat, rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    schedules.create_schedule(
        rt, pipeline_schedule("nightly", "cron(0 2 * * ? *)", scheduleExpressionTimezone="Europe/Paris")
    )

    listed = chat_client.reply("schedules", user=VIEWER)
    assert listed["response_type"] == "ephemeral"
    assert listed["text"].startswith("*nightly* `cron(0 2 * * ? *)` (Europe/Paris) → pipeline release: ENABLED, next ")
    refused, _ = chat_client.command("schedules pause nightly", user=VIEWER)
    assert refused["text"] == "Refused: `schedules` needs the operator role; you are viewer"

    paused = chat_client.reply("schedules pause nightly")
    assert paused["text"].startswith(f"<@{OPERATOR}> paused schedule *nightly*\n*nightly*")
    assert "DISABLED, next —" in paused["text"]
    ran = chat_client.reply("schedules run nightly")  # run-now works on a paused schedule
    [execution] = views.list_executions(rt, "release")
    assert ran["text"] == f"<@{OPERATOR}> ran schedule *nightly* now: started `{execution['pipelineExecutionId']}`"
    assert execution["trigger"]["triggerType"] == "Schedule"
    resumed = chat_client.reply("schedules resume nightly")
    assert "ENABLED, next 20" in resumed["text"]
    missing = chat_client.reply("schedules run weekly")
    assert missing["text"].startswith("Could not do `schedules run weekly`: ")
    assert "weekly" in missing["text"]
