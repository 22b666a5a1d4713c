"""Real `conveyor agent` processes, each standing for a host with its own root directory, deploying real bundles
through the HTTP API of a running Conveyor: all at once, then a failing revision rolled back on every host."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.conftest import RunningStack
from tests.support.hosts import app_revision, zip_bytes

pytestmark = pytest.mark.e2e
AGENT = [sys.executable, "-c", "from conveyor.cli import main; main()", "--direct", "agent"]
HOSTS = ("edge-1", "edge-2", "edge-3")
GROUP = {
    "deploymentGroupName": "edge",
    "deploymentConfigName": "CodeDeployDefault.AllAtOnce",
    "onPremisesInstanceTagFilters": [{"Key": "Tier", "Value": "edge", "Type": "KEY_AND_VALUE"}],
    "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
}


@pytest.fixture
def agents(conveyor_stack: RunningStack, tmp_path: Path) -> Iterator[dict[str, Path]]:
    settings = conveyor_stack.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env |= {
        "CONVEYOR_DATA_DIR": str(settings.data_dir),
        "CONVEYOR_DATABASE_URL": settings.database_url,
        "CONVEYOR_REDIS_URL": REDIS_URL,
        "CONVEYOR_BLOB_URL": settings.blob_url,
        "CONVEYOR_LEASE_SECONDS": "2",
    }
    roots = {name: tmp_path / "hosts" / name for name in HOSTS}
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in HOSTS}
    processes = [
        subprocess.Popen(
            [*AGENT, "--name", name, "--tag", "Tier=edge", "--root", str(root)],
            env=env,
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
        for name, root in roots.items()
    ]
    try:
        conveyor_stack.wait_for("/hosts", lambda body: len(body["hosts"]) == len(HOSTS), timeout=60)
        yield roots
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
        for name, log in logs.items():
            log.close()
            print(f"----- agent {name} -----\n{(tmp_path / f'{name}.log').read_text(errors='replace')[-3000:]}")


def _deploy(stack: RunningStack, files: dict[str, str]) -> str:
    uploaded = stack.api("POST", "/deployment-bundles?bundleType=zip", data=zip_bytes(files))
    assert uploaded.status_code == 201, uploaded.text
    created = stack.api(
        "POST", "/applications/site/deployment-groups/edge/deployments", json={"revision": uploaded.json()["revision"]}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["deploymentId"])


def _ended(body: dict[str, Any]) -> bool:
    return body["status"] in ("Succeeded", "Failed", "Stopped")


def test_agents_deploy_all_at_once_and_roll_a_failure_back(
    conveyor_stack: RunningStack, agents: dict[str, Path]
) -> None:
    stack = conveyor_stack
    assert stack.api("POST", "/applications", json={"applicationName": "site"}).status_code == 201
    assert stack.api("POST", "/applications/site/deployment-groups", json=GROUP).status_code == 201
    slow = app_revision("v1", validate="sleep 1")

    first = stack.wait_for(f"/deployments/{_deploy(stack, slow)}", _ended, timeout=120)
    assert first["status"] == "Succeeded", first
    assert first["batches"] == [list(HOSTS)]
    spans = [(datetime.fromisoformat(t["startTime"]), datetime.fromisoformat(t["endTime"])) for t in first["targets"]]
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # the hosts really worked at once
    for root in agents.values():
        assert (root / "var/www/shop/index.html").read_text() == "<h1>v1</h1>"

    failed = stack.wait_for(f"/deployments/{_deploy(stack, app_revision('v2', validate='exit 7'))}", _ended, 120)
    assert failed["status"] == "Failed"
    rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
    rollback = stack.wait_for(f"/deployments/{rollback_id}", _ended, timeout=120)
    assert rollback["status"] == "Succeeded", rollback
    for root in agents.values():
        assert sorted(p.name for p in (root / "var/www/shop").iterdir()) == ["index.html", "only-in-v1.html"]
