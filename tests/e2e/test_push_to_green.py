"""A signed push to a real server runs a real build in a real worker, and the artifact lands in the blob store."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conveyor.blobs import open_blob_store
from tests.e2e.conftest import RunningStack
from tests.support.gitrepo import make_repo
from tests.support.pipelines import as_yaml, pipeline

pytestmark = pytest.mark.e2e

BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - VERSION="1.$CODEBUILD_BUILD_NUMBER"
  build:
    commands:
      - mkdir -p dist && cd dist
      - echo "$VERSION $CODEBUILD_RESOLVED_SOURCE_VERSION" > version.txt
      - cp ../app.py .
artifacts:
  base-directory: dist
  files:
    - '**/*'
"""


def final(execution: dict) -> bool:  # type: ignore[type-arg]
    return execution["status"] not in ("InProgress", "Stopping")


def test_signed_push_goes_green_and_stores_the_artifact(conveyor_stack: RunningStack, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "app", {"buildspec.yml": BUILDSPEC, "app.py": "print('hi')\n"})
    created = conveyor_stack.api(
        "POST", "/pipelines", data=as_yaml(pipeline("e2e", repo.url)), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201, created.text

    response = conveyor_stack.push("acme/app", "https://github.com/acme/app.git", repo.head())
    assert response.status_code == 202, response.text
    [execution_id] = response.json()["executionIds"]

    execution = conveyor_stack.wait_for(f"/executions/{execution_id}", final)
    assert execution["status"] == "Succeeded", execution
    build_id = execution["stages"][1]["actions"][0]["externalExecutionId"]
    build = conveyor_stack.api("GET", f"/builds/{build_id}").json()
    assert [p["phaseType"] for p in build["phases"]][-3:] == ["UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]
    blobs = open_blob_store(conveyor_stack.settings)
    with zipfile.ZipFile(io.BytesIO(blobs.get_bytes(build["artifacts"]["key"]))) as archive:
        assert sorted(archive.namelist()) == ["app.py", "version.txt"]
        assert archive.read("version.txt").decode() == f"1.1 {repo.head()}\n"
    log = conveyor_stack.api("GET", f"/builds/{build_id}/logs").text
    assert "Running command cp ../app.py ." in log

    cli = Path(sys.executable).parent / "conveyor"
    listed = subprocess.run(
        [str(cli), "--server", conveyor_stack.url, "webhooks", "deliveries", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [delivery] = json.loads(listed.stdout)
    assert (delivery["event"], delivery["outcome"], delivery["executionIds"]) == ("push", "started", [execution_id])

    queues = {q["name"]: q for q in conveyor_stack.api("GET", "/queues").json()["queues"]}  # the Procfile's worker
    assert all(queues[name]["workers"] >= 1 for name in ("pipeline", "build-small", "default", "deploy")), queues
    assert not [q for q in queues.values() if q.get("warning")], queues


def test_a_killed_worker_does_not_leave_the_execution_in_progress(conveyor_stack: RunningStack, tmp_path: Path) -> None:
    marker = tmp_path / "build-shell.pid"
    slow = f"""\
version: 0.2
phases:
  build:
    commands:
      - echo "$$ $PPID" > {marker}
      - sleep 4
      - echo done > result.txt
artifacts:
  files: [result.txt]
"""
    repo = make_repo(tmp_path / "slow", {"buildspec.yml": slow})
    conveyor_stack.api(
        "POST", "/pipelines", data=as_yaml(pipeline("slow", repo.url)), headers={"Content-Type": "application/yaml"}
    )
    [execution_id] = conveyor_stack.push("acme/app", repo.url, repo.head()).json()["executionIds"]
    running = conveyor_stack.wait_for(
        f"/executions/{execution_id}",
        lambda e: e["stages"][1]["actions"][0]["status"] == "InProgress" and marker.exists(),
    )
    build_id = running["stages"][1]["actions"][0]["externalExecutionId"]

    _kill_worker_machine(conveyor_stack, marker)  # mid-build, as if the worker's machine died
    conveyor_stack.stack.start_one("worker")

    execution = conveyor_stack.wait_for(f"/executions/{execution_id}", final, timeout=90)
    log = conveyor_stack.api("GET", f"/builds/{build_id}/logs").text
    assert execution["status"] == "Succeeded", (execution["statusSummary"], log)
    build = conveyor_stack.api("GET", f"/builds/{build_id}").json()
    assert build["attempt"] == 2
    assert "Attempt 2" in log


def _kill_worker_machine(stack: RunningStack, marker: Path) -> None:
    """SIGKILL the worker processes, the process running the build and the build's shell.

    The build's shell runs in a session of its own, and so would an RQ work horse (`--fork-builds`): killing the
    worker's process group alone would leave them running, which a dead machine would not.
    """
    shell, horse = (int(pid) for pid in marker.read_text().split())
    stack.stack.signal("worker", signal.SIGKILL)
    for group in (horse, shell):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
    stack.stack.processes["worker"].wait()


def test_the_cli_follows_a_running_build_over_server_sent_events(conveyor_stack: RunningStack, tmp_path: Path) -> None:
    slow = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo one\n      - sleep 2\n      - echo two\n"
    repo = make_repo(tmp_path / "follow", {"buildspec.yml": slow})
    conveyor_stack.api(
        "POST",
        "/pipelines",
        data=as_yaml(pipeline("follow", repo.url, build_actions=[_no_outputs()])),
        headers={"Content-Type": "application/yaml"},
    )
    [execution_id] = conveyor_stack.push("acme/app", repo.url, repo.head()).json()["executionIds"]
    running = conveyor_stack.wait_for(
        f"/executions/{execution_id}", lambda e: bool(e["stages"][1]["actions"][0].get("externalExecutionId"))
    )
    build_id = running["stages"][1]["actions"][0]["externalExecutionId"]

    cli = Path(sys.executable).parent / "conveyor"
    followed = subprocess.run(
        [str(cli), "--server", conveyor_stack.url, "builds", "logs", build_id, "--follow"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    assert followed.stdout.index("\none\n") < followed.stdout.index("\ntwo\n")
    assert "[build ended: SUCCEEDED]" in followed.stderr
    assert conveyor_stack.api("GET", f"/builds/{build_id}").json()["buildStatus"] == "SUCCEEDED"


def _no_outputs() -> dict:  # type: ignore[type-arg]
    from tests.support.pipelines import build_action

    return build_action(outputs=())
