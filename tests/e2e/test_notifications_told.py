"""A push through real processes — gunicorn, workers and the scheduler from the Procfile — is told to Slack and
posted as commit statuses on GitHub (local servers standing in for both), in order, with no call from the test."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conveyor.db import Database
from conveyor.db.notify_models import NotificationCursor
from conveyor.notify.commit_statuses import COMMIT_STATUSES
from tests.e2e.conftest import RunningStack
from tests.support.gitrepo import make_repo
from tests.support.notifications import GITHUB_TOKEN
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline
from tests.support.receivers import Receiver

pytestmark = pytest.mark.e2e
P = "codepipeline-pipeline-"
HOOK = "/services/T0001/B0002/e2eKey42"


@pytest.fixture
def extra_environment(slack_api: Receiver, github_api: Receiver) -> dict[str, str]:
    return {
        "CONVEYOR_GITHUB_API_URL": github_api.url,
        "CONVEYOR_GITHUB_TOKEN": GITHUB_TOKEN,
        "CONVEYOR_PUBLIC_URL": "https://conveyor.example",
        "CONVEYOR_NOTIFY_INTERVAL": "0.2",
    }


def _eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"{what} did not happen within {timeout:g} s")


def test_a_push_is_told_to_slack_and_github_by_the_running_processes(
    conveyor_stack: RunningStack, tmp_path: Path, slack_api: Receiver, github_api: Receiver
) -> None:
    database = Database(conveyor_stack.settings.database_url)

    def reader_opened() -> bool:
        with database.reader() as session:
            return session.get(NotificationCursor, COMMIT_STATUSES) is not None

    try:
        _eventually(reader_opened, "the commit statuses' reader opening")  # the scheduler has seen the token
    finally:
        database.dispose()
    told = [
        f"{P}pipeline-execution-started",
        "codebuild-project-build-state-succeeded",
        f"{P}pipeline-execution-succeeded",
    ]
    rule = {"name": "team", "eventTypeIds": told, "target": {"type": "slack", "webhookUrl": slack_api.url + HOOK}}
    assert conveyor_stack.api("POST", "/notification-rules", json=rule).status_code == 201
    repo = make_repo(tmp_path / "app", {"buildspec.yml": SIMPLE_BUILDSPEC})
    created = conveyor_stack.api(
        "POST", "/pipelines", data=as_yaml(pipeline("e2e", repo.url)), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201, created.text

    pushed = conveyor_stack.push("acme/app", "https://github.com/acme/app.git", repo.head())
    [execution_id] = pushed.json()["executionIds"]
    execution = conveyor_stack.wait_for(f"/executions/{execution_id}", lambda e: e["status"] != "InProgress")
    assert execution["status"] == "Succeeded", execution
    _eventually(
        lambda: len(slack_api.requests) >= 3 and len(github_api.requests) >= 2, "three messages and two statuses"
    )
    time.sleep(1)  # anything sent twice would arrive meanwhile

    texts = [body["text"] for body in slack_api.bodies()]
    assert len(texts) == 3
    assert texts[0].startswith(":arrow_forward: Pipeline *e2e* execution ")
    assert texts[0].endswith(" STARTED")
    assert texts[1].startswith(":white_check_mark: Build ")
    assert texts[2].endswith(f"|{execution_id[-8:]}> SUCCEEDED")
    path = f"/repos/acme/app/statuses/{repo.head()}"
    assert [(r.path, r.json()["state"]) for r in github_api.requests] == [(path, "pending"), (path, "success")]
    statuses = conveyor_stack.api("GET", "/commit-statuses").json()["deliveries"]
    assert [(d["eventType"], d["status"]) for d in reversed(statuses)] == [
        (f"{P}pipeline-execution-started", "Delivered"),
        (f"{P}action-execution-succeeded", "Skipped"),  # the source fetched the commit the push named already
        (f"{P}pipeline-execution-succeeded", "Delivered"),
    ]
