"""A deployment on hosts watching its group's CloudWatch alarms (moto): an alarm in ALARM before a batch stops it and
rolls back; an alarm that cannot be read stops it unless ignorePollAlarmFailure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.deploy import deployments
from conveyor.runtime import Runtime
from tests.support.hosts import app_revision, deploy, events_of, make_fleet

WATCHED = {"enabled": True, "alarms": [{"name": "shop-errors"}]}
ROLLBACK_ON_ALARM = {"enabled": True, "events": ["DEPLOYMENT_STOP_ON_ALARM"]}


@pytest.fixture
def cloudwatch(rt: Runtime, fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = aws.client("cloudwatch", rt.settings)
        client.put_metric_alarm(
            AlarmName="shop-errors",
            MetricName="Errors",
            Namespace="Shop",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        client.set_alarm_state(AlarmName="shop-errors", StateValue="OK", StateReason="quiet")
        yield client


def test_an_alarm_before_the_second_batch_stops_the_deployment_and_rolls_back(
    rt: Runtime, tmp_path: Path, cloudwatch: Any
) -> None:
    fleet = make_fleet(rt, tmp_path, 3, alarmConfiguration=WATCHED, autoRollbackConfiguration=ROLLBACK_ON_ALARM)
    good = deploy(rt, app_revision("v1"))
    fleet.work()
    assert deployments.get_deployment(rt, good["deploymentId"])["status"] == "Succeeded"

    second = deploy(rt, app_revision("v2"))
    cloudwatch.set_alarm_state(AlarmName="shop-errors", StateValue="ALARM", StateReason="errors above 1")
    fleet.work_next("web-01")  # the first batch reports; the second would start now

    stopped = deployments.get_deployment(rt, second["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"] == {
        "code": "ALARM_ACTIVE",
        "message": "alarm in ALARM state: shop-errors (errors above 1)",
    }
    assert stopped["batches"] == [["web-01"]]
    assert [(t["targetId"], t["status"]) for t in stopped["targets"]] == [
        ("web-01", "Succeeded"),
        ("web-02", "Skipped"),
        ("web-03", "Skipped"),
    ]
    assert {status for _, status in events_of(stopped, "web-02")} == {"Skipped"}
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v2</h1>"

    fleet.work()  # the rollback, which does not stop on the alarm that caused it
    rollback = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "Succeeded")
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == second["deploymentId"]
    assert rollback["revision"] == good["revision"]
    for host in fleet.roots:
        assert (fleet.site(host) / "index.html").read_text() == "<h1>v1</h1>"
    assert not (fleet.site("web-01") / "only-in-v2.html").exists()


def test_an_alarm_already_firing_stops_the_deployment_before_any_host(
    rt: Runtime, tmp_path: Path, cloudwatch: Any
) -> None:
    fleet = make_fleet(rt, tmp_path, 2, alarmConfiguration=WATCHED)
    cloudwatch.set_alarm_state(AlarmName="shop-errors", StateValue="ALARM", StateReason="errors above 1")

    created = deploy(rt, app_revision("v1"))
    fleet.work()

    stopped = deployments.get_deployment(rt, created["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert "shop-errors" in stopped["errorInformation"]["message"]
    assert [t["status"] for t in stopped["targets"]] == ["Skipped", "Skipped"]
    assert "rollbackInfo" not in stopped  # the group does not roll back on alarms
    assert not fleet.site("web-01").exists()


def test_alarms_are_not_polled_when_the_configuration_is_disabled(rt: Runtime, tmp_path: Path, cloudwatch: Any) -> None:
    fleet = make_fleet(rt, tmp_path, 1, alarmConfiguration={**WATCHED, "enabled": False})
    cloudwatch.set_alarm_state(AlarmName="shop-errors", StateValue="ALARM", StateReason="errors above 1")
    created = deploy(rt, app_revision("v1"))
    fleet.work()
    assert deployments.get_deployment(rt, created["deploymentId"])["status"] == "Succeeded"


@pytest.mark.parametrize("ignore", [False, True])
def test_an_alarm_that_cannot_be_read_stops_the_deployment_unless_ignored(
    rt: Runtime, tmp_path: Path, cloudwatch: Any, ignore: bool
) -> None:
    alarms = {"enabled": True, "ignorePollAlarmFailure": ignore, "alarms": [{"name": "shop-missing"}]}
    fleet = make_fleet(rt, tmp_path, 2, alarmConfiguration=alarms)
    created = deploy(rt, app_revision("v1"))
    fleet.work()

    done = deployments.get_deployment(rt, created["deploymentId"])
    if ignore:
        assert done["status"] == "Succeeded"
        assert [t["status"] for t in done["targets"]] == ["Succeeded", "Succeeded"]
    else:
        assert done["status"] == "Stopped"
        assert done["errorInformation"] == {
            "code": "ALARM_ACTIVE",
            "message": "the states of the alarms could not be read: CloudWatch has no alarm named shop-missing "
            "(set ignorePollAlarmFailure to go on regardless)",
        }
        assert [t["status"] for t in done["targets"]] == ["Skipped", "Skipped"]


def test_an_alarm_poll_failing_mid_deployment_stops_it(rt: Runtime, tmp_path: Path, cloudwatch: Any) -> None:
    fleet = make_fleet(rt, tmp_path, 2, alarmConfiguration=WATCHED)
    created = deploy(rt, app_revision("v1"))
    cloudwatch.delete_alarms(AlarmNames=["shop-errors"])  # CloudWatch no longer knows it when web-01 reports
    fleet.work()

    stopped = deployments.get_deployment(rt, created["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert "CloudWatch has no alarm named shop-errors" in stopped["errorInformation"]["message"]
    assert [t["status"] for t in stopped["targets"]] == ["Succeeded", "Skipped"]
