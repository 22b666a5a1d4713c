"""Following an execution from the command line on the Procfile's real processes: `conveyor pipeline start --wait`
prints each state change as the workers make it and exits 0 when the execution succeeded, 1 when it failed (with
the failed action's reason and where its log is); `conveyor executions watch` does the same for a running or an
ended execution; Ctrl-C stops the watching, not the execution."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner

from conveyor.cli import main
from tests.e2e.conftest import ROOT, RunningStack
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import build_action, pipeline

pytestmark = pytest.mark.e2e

PASSING = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo fine\n"
FAILING = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo about to fail\n      - exit 3\n"


def _create(stack: RunningStack, repo: GitRepo, name: str) -> None:
    document = pipeline(name, repo.url, build_actions=[build_action(outputs=())])
    assert stack.api("POST", "/pipelines", json=document).status_code == 201


def test_start_wait_follows_a_run_to_success_and_exits_0(conveyor_stack: RunningStack, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": PASSING})
    _create(conveyor_stack, repo, "waited")

    result = CliRunner().invoke(main, ["--server", conveyor_stack.url, "pipeline", "start", "waited", "--wait"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("started waited: execution ")
    changes = [" ".join(line.split()[1:3]) for line in lines[1:-1]]
    assert changes[0] == "execution STARTED"
    assert "Source.Source SUCCEEDED" in changes
    assert changes.index("Build.Build STARTED") < changes.index("Build.Build SUCCEEDED")
    assert changes[-1] == "execution SUCCEEDED"
    assert lines[-1].endswith(" Succeeded")


def test_a_failed_run_exits_1_naming_the_failed_action_and_its_log(conveyor_stack: RunningStack, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": FAILING})
    _create(conveyor_stack, repo, "failing")
    cli = CliRunner()

    started = cli.invoke(main, ["--server", conveyor_stack.url, "pipeline", "start", "failing", "--wait"])

    assert started.exit_code == 1, started.output
    lines = started.output.splitlines()
    assert [line.split()[1:3] for line in lines if line.split()[1:2] == ["execution"]][-1] == ["execution", "FAILED"]
    [reason] = [line for line in lines if line.startswith("  Build.Build: ")]
    assert "Error while executing command: exit 3" in reason  # whole on its line, not wrapped
    build_id = conveyor_stack.api("GET", "/builds").json()["builds"][0]["id"]
    assert f"its log: conveyor builds logs {build_id}" in started.output

    execution_id = started.output.splitlines()[0].rsplit(" ", 1)[1]
    again = cli.invoke(main, ["--server", conveyor_stack.url, "executions", "watch", execution_id, "-o", "json"])
    assert again.exit_code == 1  # an ended execution: its end at once
    assert json.loads(again.stdout)["status"] == "Failed"


def test_ctrl_c_stops_the_watching_not_the_execution(conveyor_stack: RunningStack, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": PASSING})
    document = pipeline("gated", repo.url, build_actions=[build_action(outputs=())])
    approval = {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
    document["pipeline"]["stages"].insert(
        1, {"name": "Gate", "actions": [{"name": "Review", "actionTypeId": approval}]}
    )
    assert conveyor_stack.api("POST", "/pipelines", json=document).status_code == 201
    command = [sys.executable, "-c", "from conveyor.cli import main; main()", "--server", conveyor_stack.url]
    watcher = subprocess.Popen(
        [*command, "pipeline", "start", "gated", "--wait"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert watcher.stdout is not None
    deadline = threading.Timer(60, watcher.kill)  # a watcher that never gets there fails the test, not hangs it
    deadline.start()
    seen = [watcher.stdout.readline() for _ in range(8)]  # started, then 7 changes up to the approval's wait
    deadline.cancel()
    assert "Waiting for approval" in seen[-1], seen

    watcher.send_signal(signal.SIGINT)
    rest, _ = watcher.communicate(timeout=30)

    assert watcher.returncode == 130
    execution_id = seen[0].split()[-1]
    assert f"stopped watching; the execution goes on: conveyor executions watch {execution_id}" in rest
    assert conveyor_stack.api("GET", f"/executions/{execution_id}").json()["status"] == "InProgress"
