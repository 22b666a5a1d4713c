"""Blue/green deployments on hosts at the edges: the REST API (ContinueDeployment, refusals as JSON), the command
line (`--target-tag`, `deploy continue`), and the group's alarms stopping one and rolling it back (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from moto import mock_aws

from conveyor import aws
from conveyor.cli.main import main
from conveyor.config import Settings
from conveyor.deploy import deployments
from conveyor.runtime import Runtime
from tests.support.blue_green import ALLOW, BLOCK, ORIGINALS, REPLACEMENTS, blue_green_fleet, deploy_to, serving
from tests.support.cli import settings_environment
from tests.support.elb import ElbWorld, elb_world
from tests.support.hosts import app_revision, events_of, zip_bytes

READY_WAIT = {"deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30}}
DEPLOYMENTS = "/api/v1/applications/shop/deployment-groups/web/deployments"


@pytest.fixture
def world(rt: Runtime, fake_aws_credentials: None) -> Iterator[ElbWorld]:
    with mock_aws():
        made = elb_world(aws.client("ec2", rt.settings), aws.client("elbv2", rt.settings))
        made.listener(80, made.target_group("shop-tg"))
        yield made


def test_the_api_creates_continues_and_refuses_as_json(
    client: FlaskClient, rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    fleet = blue_green_fleet(rt, tmp_path, world, **READY_WAIT)
    uploaded = client.post(
        "/api/v1/deployment-bundles?filename=app.zip",
        data=zip_bytes(app_revision("v1")),
        content_type="application/zip",
    )
    revision = uploaded.get_json()["revision"]

    missing = client.post(DEPLOYMENTS, json={"revision": revision})
    assert missing.status_code == 400
    assert "targetInstances.tagFilters" in missing.get_json()["message"]
    wrong = client.post(DEPLOYMENTS, json={"revision": revision, "targetInstances": ["Role=next"]})
    assert (wrong.status_code, wrong.get_json()["message"]) == (400, "'targetInstances' must be a dict")
    created = client.post(DEPLOYMENTS, json={"revision": revision, "targetInstances": REPLACEMENTS})
    assert created.status_code == 201, created.get_json()
    deployment_id = created.get_json()["deploymentId"]
    fleet.work()

    shown = client.get(f"/api/v1/deployments/{deployment_id}").get_json()
    assert shown["status"] == "Ready"
    assert {t["targetId"]: t["instanceLabel"] for t in shown["targets"]} == {
        "next-01": "Green",
        "next-02": "Green",
        "web-01": "Blue",
        "web-02": "Blue",
    }
    bad_type = client.post(f"/api/v1/deployments/{deployment_id}/continue", json={"deploymentWaitType": "SOON"})
    assert bad_type.status_code == 400
    assert "must be READY_WAIT or TERMINATION_WAIT" in bad_type.get_json()["message"]
    assert client.post("/api/v1/deployments/d-NOSUCHONE/continue", json={}).status_code == 404
    continued = client.post(f"/api/v1/deployments/{deployment_id}/continue", json={})
    assert continued.get_json() == {"deploymentId": deployment_id, "status": "InProgress"}
    fleet.work()
    assert client.get(f"/api/v1/deployments/{deployment_id}").get_json()["status"] == "Succeeded"
    again = client.post(f"/api/v1/deployments/{deployment_id}/continue", json={})
    assert again.status_code == 409
    assert again.get_json()["error"] == "Conflict"


def test_the_command_line_names_replacements_by_tag_and_continues(
    settings: Settings, rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    env = settings_environment(settings)

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--direct", *args], env=env, catch_exceptions=False)
        return result.exit_code, result.output

    fleet = blue_green_fleet(rt, tmp_path, world, **READY_WAIT)
    bundle = tmp_path / "app.zip"
    bundle.write_bytes(zip_bytes(app_revision("v1")))
    assert cli("deploy", "create", "shop", "web", "--bundle", str(bundle), "--target-tag", "Role")[0] == 2
    code, output = cli("deploy", "create", "shop", "web", "--bundle", str(bundle), "--target-tag", "Role=next")
    assert code == 0, output
    deployment_id = output.split()[0]
    fleet.work()

    code, output = cli("deploy", "show", deployment_id)
    assert "Ready" in output
    assert "next-01 (Green)" in output
    assert "web-01 (Blue)" in output
    code, output = cli("deploy", "continue", deployment_id)
    assert (code, output.strip()) == (0, f"{deployment_id} InProgress")
    fleet.work()
    assert deployments.get_deployment(rt, deployment_id)["status"] == "Succeeded"
    assert serving(world) == {"10.0.1.21", "10.0.1.22"}


def test_an_alarm_stops_a_blue_green_deployment_and_its_rollback_reroutes_back(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    cloudwatch = aws.client("cloudwatch", rt.settings)
    cloudwatch.put_metric_alarm(
        AlarmName="shop-errors",
        MetricName="Errors",
        Namespace="Shop",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="shop-errors", StateValue="OK", StateReason="quiet")
    group = {
        "alarmConfiguration": {"enabled": True, "alarms": [{"name": "shop-errors"}]},
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]},
    }
    fleet = blue_green_fleet(rt, tmp_path, world, group=group)
    first = deploy_to(rt, app_revision("v1"))
    fleet.work()
    assert deployments.get_deployment(rt, first)["status"] == "Succeeded"

    second = deploy_to(rt, app_revision("v2"), target_instances=ORIGINALS)
    cloudwatch.set_alarm_state(AlarmName="shop-errors", StateValue="ALARM", StateReason="errors above 1")
    fleet.work_next("web-01")  # its Install reports; the next batch would start now

    stopped = deployments.get_deployment(rt, second)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert [t["status"] for t in stopped["targets"]] == ["Skipped", "Skipped", "Succeeded", "Skipped"]
    fleet.work()
    rollback = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Succeeded"  # a rollback does not watch the alarms
    assert events_of(rollback, "next-01") == [(name, "Succeeded") for name in ALLOW]
    assert events_of(rollback, "web-01") == [(name, "Succeeded") for name in BLOCK]
    assert serving(world) == {"10.0.1.21", "10.0.1.22"}
