"""`conveyor deploy …` on the same settings a server would use: create from a bundle file, watch, list, stop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli.main import main
from conveyor.config import Settings
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment
from tests.support.hosts import app_revision, make_fleet, zip_bytes

Invoke = Callable[..., Result]


@pytest.fixture
def cli(settings: Settings, rt: Runtime) -> Invoke:
    env = settings_environment(settings)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["--direct", *args], env=env, catch_exceptions=False)

    return invoke


def test_deploy_a_bundle_file_and_watch_each_host(cli: Invoke, rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 2)
    bundle = tmp_path / "app.zip"
    bundle.write_bytes(zip_bytes(app_revision("v1")))

    created = cli("deploy", "create", "shop", "web", "--bundle", str(bundle), "--description", "first")
    assert created.exit_code == 0, created.output
    deployment_id = created.output.split()[0]
    assert created.output.split()[1] == "InProgress"
    fleet.work()

    watched = cli("deploy", "watch", deployment_id, "--interval", "0.1")
    assert watched.exit_code == 0, watched.output
    lines = watched.output.splitlines()
    assert "web-01: Install Succeeded" in lines
    assert "web-02: ValidateService Succeeded" in lines
    assert lines[-1] == f"{deployment_id} Succeeded"
    listed = cli("deploy", "list", "shop", "web", "-o", "json")
    assert deployment_id in listed.output
    shown = cli("deploy", "show", deployment_id)
    assert "ApplicationStart:Succeeded" in shown.output

    again = cli("deploy", "redeploy", deployment_id)
    assert again.exit_code == 0, again.output
    second = again.output.split()[0]
    assert cli("deploy", "stop", second, "--no-rollback").exit_code == 0
    fleet.work()
    stopped = cli("deploy", "watch", second, "--interval", "0.1")
    assert stopped.exit_code == 1
    assert stopped.output.splitlines()[-1].startswith(f"{second} Stopped [MANUAL_STOP")


def test_an_invalid_bundle_is_refused_with_its_problems(cli: Invoke, rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    bundle = tmp_path / "app.tgz"
    bundle.write_bytes(b"not a tar")
    refused = cli("deploy", "create", "shop", "web", "--bundle", str(bundle))
    assert refused.exit_code == 1
    assert "not a tar bundle" in refused.output
