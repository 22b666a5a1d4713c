"""Schedules on real processes: a scheduler starting after downtime catches a missed slot up once (or skips it, as
the schedule says), and the real workers run what it started; run-now over HTTP and from the CLI against the server.

The schedules are saved before the Procfile's processes start, counted from three days ago: their daily slots of
the last three days passed while no scheduler ran. The next one is almost a day away, so none comes due during the
test.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conveyor.cli import main
from conveyor.db.models import utcnow
from conveyor.runtime import Runtime
from conveyor.schedules import registry
from tests.e2e.conftest import RunningStack
from tests.support.gitrepo import GitRepo
from tests.support.schedules import build_schedule, janitor_project, pipeline_schedule, release_pipeline

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack_after_downtime(rt: Runtime, repo: GitRepo, request: pytest.FixtureRequest) -> RunningStack:
    release_pipeline(rt, repo)
    janitor_project(rt)
    an_hour_ago = utcnow() - timedelta(hours=1)
    daily = f"cron({an_hour_ago.minute} {an_hour_ago.hour} * * ? *)"
    three_days_ago = utcnow() - timedelta(days=3)
    for body in (
        pipeline_schedule("catch-up", daily, missed="run-once"),
        pipeline_schedule("no-catch-up", daily, missed="skip"),
        build_schedule("cleanup", daily),
    ):
        registry.create_schedule(rt, body, now=three_days_ago)
    rt.db.dispose()
    stack: RunningStack = request.getfixturevalue("conveyor_stack")  # its processes start now
    return stack


def _history(stack: RunningStack, name: str, done: Any) -> list[dict[str, Any]]:
    body = stack.wait_for(f"/schedules/{name}/history", lambda b: bool(b["firings"]) and done(b["firings"]))
    return list(body["firings"])


def test_the_scheduler_catches_up_once_or_skips_and_the_workers_run_what_it_started(
    stack_after_downtime: RunningStack, tmp_path: Path
) -> None:
    stack = stack_after_downtime
    [caught_up] = _history(stack, "catch-up", lambda f: f[0]["targetStatus"] in ("Succeeded", "Failed"))
    assert (caught_up["trigger"], caught_up["status"], caught_up["targetStatus"]) == (
        "schedule",
        "STARTED",
        "Succeeded",
    )
    assert "and 2 later slots passed while no scheduler ran: ran once for them" in caught_up["message"]
    execution = stack.api("GET", f"/executions/{caught_up['target']['pipelineExecutionId']}").json()
    assert execution["trigger"]["triggerType"] == "Schedule"
    assert execution["variables"] == {"DEPLOY_ENV": "prod"}

    [skipped] = _history(stack, "no-catch-up", lambda f: True)
    assert (skipped["status"], skipped["target"]["pipelineExecutionId"]) == ("SKIPPED", None)
    [built] = _history(stack, "cleanup", lambda f: f[0]["targetStatus"] in ("SUCCEEDED", "FAILED", "FAULT"))
    assert built["targetStatus"] == "SUCCEEDED"
    log = stack.api("GET", f"/builds/{built['target']['buildId']}/logs").text
    assert "keeping 7 days for schedule/cleanup" in log
    for name in ("catch-up", "no-catch-up", "cleanup"):  # each waits for its next slot, a day away
        schedule = stack.api("GET", f"/schedules/{name}").json()
        assert schedule["nextFireTimes"][0] > utcnow().isoformat()

    ran = stack.api("POST", "/schedules/no-catch-up/run")
    assert ran.status_code == 202, ran.text
    execution_id = ran.json()["target"]["pipelineExecutionId"]
    final = stack.wait_for(f"/executions/{execution_id}", lambda e: e["status"] not in ("InProgress", "Stopping"))
    assert final["status"] == "Succeeded"
    assert final["trigger"]["triggerDetail"] == "schedule no-catch-up, run now"

    cli = CliRunner()
    from_cli = cli.invoke(main, ["--server", stack.url, "schedules", "run", "cleanup", "-o", "json"])
    assert from_cli.exit_code == 0, from_cli.output
    build_id = json.loads(from_cli.stdout)["target"]["buildId"]
    build = stack.wait_for(f"/builds/{build_id}", lambda b: b["buildComplete"])
    assert build["buildStatus"] == "SUCCEEDED"
    history = cli.invoke(main, ["--server", stack.url, "schedules", "history", "cleanup", "-o", "json"])
    assert [(f["trigger"], f["targetStatus"]) for f in json.loads(history.stdout)] == [
        ("run-now", "SUCCEEDED"),
        ("schedule", "SUCCEEDED"),
    ]
    listed = cli.invoke(main, ["--server", stack.url, "schedules", "list", "-o", "json"])
    assert sorted(s["name"] for s in json.loads(listed.stdout)) == ["catch-up", "cleanup", "no-catch-up"]
