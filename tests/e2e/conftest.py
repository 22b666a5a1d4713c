"""Real Conveyor processes from the Procfile: gunicorn web, RQ workers and the scheduler, on Redis and SQL."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from conveyor.config import Settings
from conveyor.devstack import Stack, free_port, read_procfile, stack_environment, wait_healthy
from conveyor.triggers.github import push_payload, signature
from tests.conftest import REDIS_URL, WEBHOOK_SECRET, settings_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningStack:
    url: str
    settings: Settings
    stack: Stack

    def push(self, repository: str, clone_url: str, sha: str, ref: str = "refs/heads/main") -> requests.Response:
        body = json.dumps(push_payload(repository, clone_url, sha, ref=ref)).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature(WEBHOOK_SECRET.encode(), body),
        }
        return requests.post(f"{self.url}/webhooks/github", data=body, headers=headers, timeout=10)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.url}/api/v1{path}", timeout=10, **kwargs)

    def wait_for(self, path: str, done: Any, timeout: float = 60.0) -> dict[str, Any]:
        """Poll `GET path` until `done(body)` holds; fail with the last answer after `timeout`."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.api("GET", path)
            if response.status_code == 200:
                body = response.json()
                if done(body):
                    return body
            time.sleep(0.1)
        pytest.fail(f"{path} did not reach the expected state in {timeout:g} s: {body}")


@pytest.fixture
def stack_env() -> dict[str, str]:
    """Further environment for the stack's processes; a test module overrides it to configure more."""
    return {}


@pytest.fixture
def conveyor_stack(
    tmp_path: Path, database_url: str, redis_client: redis.Redis, stack_env: dict[str, str]
) -> Iterator[RunningStack]:
    settings = settings_for(tmp_path, database_url, lease_seconds=2, reconcile_interval=0.3)
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env = stack_environment(settings, port, base)
    env.update(
        {
            "CONVEYOR_DATABASE_URL": settings.database_url,
            "CONVEYOR_REDIS_URL": REDIS_URL,
            "CONVEYOR_BLOB_URL": settings.blob_url,
            "CONVEYOR_GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CONVEYOR_LEASE_SECONDS": "2",
            "CONVEYOR_RECONCILE_INTERVAL": "0.3",
            "CONVEYOR_BUILDERS": "1",
            "WEB_CONCURRENCY": "1",
            **stack_env,
        }
    )
    stack = Stack(read_procfile(ROOT / "Procfile"), env, tmp_path / "logs")
    stack.start()
    try:
        wait_healthy(f"http://127.0.0.1:{port}", timeout=60, stack=stack)
        yield RunningStack(f"http://127.0.0.1:{port}", settings, stack)
    finally:
        stack.stop(timeout=10)
        _show_logs_on_failure(tmp_path / "logs")


def _show_logs_on_failure(log_dir: Path) -> None:
    for log in sorted(log_dir.glob("*.log")):
        print(f"----- {log.name} -----\n{log.read_text(errors='replace')[-4000:]}")
