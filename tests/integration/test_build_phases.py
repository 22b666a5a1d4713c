"""Phase records in SQL while a build runs (quick steps are written together) and when it ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from conveyor.runtime import Runtime
from tests.integration.test_build_stop import _queued_build
from tests.support.gitrepo import GitRepo


def test_a_running_build_shows_its_phases_so_far_and_the_end_shows_them_all(
    rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    buildspec = (
        "version: 0.2\nphases:\n  install:\n    commands: []\n"
        f"  build:\n    commands:\n      - while [ ! -f {go} ]; do sleep 0.05; done\n"
        "  post_build:\n    commands:\n      - echo done\n"
    )
    _, build_id = _queued_build(rt, repo, buildspec, "phases")
    seen: dict[str, Any] = {}

    def look_while_running() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            build = client.get(f"/api/v1/builds/{build_id}").get_json()
            if build["currentPhase"] == "BUILD":
                seen.update(build)
                break
            time.sleep(0.02)
        go.touch()

    watcher = threading.Thread(target=look_while_running)
    watcher.start()
    run_jobs()
    watcher.join(timeout=60)

    running = [(p["phaseType"], p["phaseStatus"]) for p in seen["phases"]]
    assert running == [
        ("SUBMITTED", "SUCCEEDED"),
        ("QUEUED", "SUCCEEDED"),
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", None),
    ]
    final = client.get(f"/api/v1/builds/{build_id}").get_json()
    assert [p["phaseType"] for p in final["phases"]][-5:] == [
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
        "COMPLETED",
    ]
    assert all(p["phaseStatus"] == "SUCCEEDED" for p in final["phases"][:-1])
    assert all(p["endTime"] for p in final["phases"][:-1])
