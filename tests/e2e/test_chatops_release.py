"""A release driven from Slack on real processes (gunicorn, RQ workers, the scheduler): a slash command starts the
pipeline, `status` shows the waiting approval with buttons, pressing Approve lets the release through. Slack's
response URLs are a local server recording what Conveyor posts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support.approvals import gated_pipeline
from tests.support.gitrepo import make_repo
from tests.support.slack import SIGNING_SECRET, TEAM, ResponseUrls, button_form, response_urls, signed, slash_form

pytestmark = pytest.mark.e2e
RELEASER = "U0RELEASER"


@pytest.fixture
def extra_environment() -> dict[str, str]:
    return {"CONVEYOR_SLACK_SIGNING_SECRET": SIGNING_SECRET, "CONVEYOR_SLACK_ROLES": f"{TEAM}/{RELEASER}=operator"}


@pytest.fixture
def slack() -> Iterator[ResponseUrls]:
    with response_urls() as urls:
        yield urls


def send(stack: RunningStack, path: str, body: bytes) -> requests.Response:
    return requests.post(f"{stack.url}{path}", data=body, headers=signed(body), timeout=10)


def command(stack: RunningStack, slack: ResponseUrls, text: str, name: str) -> dict[str, Any]:
    response = send(stack, "/chatops/slack", slash_form(text, RELEASER, slack.url(name)))
    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": f"Working on `{text}`…"}
    [reply] = slack.wait_for(name)
    return reply


def test_a_release_run_and_approved_from_slack(
    conveyor_stack: RunningStack, slack: ResponseUrls, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo")
    created = conveyor_stack.api(
        "POST", "/pipelines", data=gated_pipeline("web", repo.url), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201, created.text

    started = command(conveyor_stack, slack, "run web", "run")
    execution_id = started["text"].split("`")[1]
    assert started["response_type"] == "in_channel"
    conveyor_stack.wait_for(
        f"/executions/{execution_id}", lambda e: any(s["status"] == "InProgress" for s in e["stages"][1:2])
    )

    status = command(conveyor_stack, slack, "status web", "status")
    [actions] = [block for block in status["blocks"] if block["type"] == "actions"]
    approve = next(b for b in actions["elements"] if b["text"]["text"] == "Approve")
    pressed = send(conveyor_stack, "/chatops/slack/interactions", button_form(approve, RELEASER, slack.url("press")))
    assert (pressed.status_code, pressed.text) == (200, "")
    [answer] = slack.wait_for("press")
    assert answer["text"] == f"<@{RELEASER}> approved Review in Gate of *web*"

    execution = conveyor_stack.wait_for(
        f"/executions/{execution_id}", lambda e: e["stages"][2]["status"] == "InProgress"
    )
    assert [s["status"] for s in execution["stages"]] == ["Succeeded", "Succeeded", "InProgress"]
    log = conveyor_stack.api("GET", "/chatops/commands").json()["commands"]
    assert [(c["source"], c["verb"], c["status"]) for c in log] == [
        ("button", "approve", "done"),
        ("slash", "status", "done"),
        ("slash", "run", "done"),
    ]
