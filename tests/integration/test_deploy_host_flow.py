"""One host through successive in-place deployments: state, install and hook scripts together, a rollback included."""

from __future__ import annotations

from pathlib import Path

from conveyor.deploy.hooks import DeploymentIdentity, EventResult, HookScript, run_lifecycle_event
from conveyor.deploy.host_state import HostState
from conveyor.deploy.install import FileMapping, install_revision
from tests.integration.test_deploy_host_state import zip_bundle

GROUP = "3e4f5a6b-7c8d-4e9f-a0b1-c2d3e4f5a6b7"
IN_PLACE = ["ApplicationStop", "DownloadBundle", "BeforeInstall", "Install", "AfterInstall", "ApplicationStart"]
FROM_LAST_SUCCESSFUL = {"ApplicationStop"}
HOOKS = {
    "ApplicationStop": [HookScript("scripts/stop.sh")],
    "ApplicationStart": [HookScript("scripts/start.sh")],
    "ValidateService": [HookScript("scripts/validate.sh")],
}


def revision(version: str, journal: Path, healthy: bool) -> dict[str, str]:
    """A revision whose scripts (without execute bits) append to `journal`, naming the revision they belong to."""
    return {
        "appspec.yml": "version: 0.0\nos: linux\n",
        "site/index.html": f"<h1>{version}</h1>",
        f"site/only-in-{version}.html": version,
        "scripts/stop.sh": f'#!/bin/bash\necho "stop {version} $DEPLOYMENT_ID" >> {journal}\n',
        "scripts/start.sh": f'#!/bin/bash\necho "start {version} $DEPLOYMENT_ID" >> {journal}\n',
        "scripts/validate.sh": f"#!/bin/bash\n{'exit 0' if healthy else 'echo unhealthy >&2; exit 1'}\n",
    }


def deploy(state: HostState, root: Path, tmp_path: Path, deployment_id: str, files: dict[str, str]) -> EventResult:
    """Carry a deployment through the in-place events on this host; the first event that fails ends it."""
    identity = DeploymentIdentity(deployment_id, "shop", "shop-prod", GROUP)
    for event in [*IN_PLACE, "ValidateService"]:
        if event == "DownloadBundle":
            bundle = zip_bundle(tmp_path, files, f"{deployment_id}.zip")
            state.unpack_bundle(state.begin_deployment(GROUP, deployment_id), bundle)
            continue
        if event == "Install":
            install_revision(state, GROUP, deployment_id, [FileMapping("site", "/var/www/shop")], host_root=root)
            continue
        archive = state.scripts_archive(GROUP, deployment_id, last_successful=event in FROM_LAST_SUCCESSFUL)
        if archive is None:
            continue
        result = run_lifecycle_event(event, HOOKS.get(event, []), archive, identity, lambda _line: None)
        if not result.succeeded:
            return result
    return result


def test_a_failed_validation_is_rolled_back_by_a_new_deployment_of_the_previous_revision(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    root = tmp_path / "host"
    root.mkdir()
    site = root / "var" / "www" / "shop"
    journal = tmp_path / "journal"

    first = deploy(state, root, tmp_path, "d-V1", revision("v1", journal, healthy=True))
    failed = deploy(state, root, tmp_path, "d-V2", revision("v2", journal, healthy=False))
    assert first.succeeded
    assert (failed.lifecycle_event, failed.result.value, failed.exit_code) == ("ValidateService", "ScriptFailed", 1)
    assert "[stderr]unhealthy" in failed.log_tail
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "only-in-v2.html"]

    rollback = deploy(state, root, tmp_path, "d-ROLLBACK", revision("v1", journal, healthy=True))

    assert rollback.succeeded
    assert sorted(p.name for p in site.iterdir()) == ["index.html", "only-in-v1.html"]
    assert (site / "index.html").read_text() == "<h1>v1</h1>"
    assert journal.read_text().splitlines() == [
        "start v1 d-V1",
        "stop v1 d-V2",  # ApplicationStop runs the last successful install's script
        "start v2 d-V2",
        "stop v2 d-ROLLBACK",  # v2's Install succeeded: its stop script stops what v2 started
        "start v1 d-ROLLBACK",
    ]
