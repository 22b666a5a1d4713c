"""Polling a group's alarms in CloudWatch (moto): an alarm flipped to ALARM stops the deployment, a missing alarm and
an unreachable CloudWatch are poll failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.deploy.alarms import AlarmConfiguration, check_alarms, poll_alarms
from conveyor.deploy.status import DeploymentErrorCode
from tests.conftest import AWS_REGION


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


@pytest.fixture
def cloudwatch(settings: Settings) -> Iterator[Any]:
    with mock_aws():
        client = aws.client("cloudwatch", settings)
        for name in ("errors", "latency"):
            client.put_metric_alarm(
                AlarmName=name,
                MetricName=name.title(),
                Namespace="AWS/Lambda",
                Statistic="Sum",
                Period=60,
                EvaluationPeriods=1,
                Threshold=1,
                ComparisonOperator="GreaterThanThreshold",
            )
            client.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")
        yield client


CONFIG = AlarmConfiguration(enabled=True, alarms=("errors", "latency"))


def test_alarms_all_ok_let_the_deployment_go_on(cloudwatch: Any) -> None:
    polled = poll_alarms(cloudwatch, CONFIG.alarms)
    assert {name: state.state for name, state in polled.states.items()} == {"errors": "OK", "latency": "OK"}
    assert not check_alarms(cloudwatch, CONFIG).stop


def test_an_alarm_flipped_to_alarm_stops_the_deployment(cloudwatch: Any) -> None:
    cloudwatch.set_alarm_state(AlarmName="latency", StateValue="ALARM", StateReason="p99 above 2 s")

    decision = check_alarms(cloudwatch, CONFIG)

    assert decision.stop
    assert decision.error_code is DeploymentErrorCode.ALARM_ACTIVE
    assert decision.firing == ("latency",)
    assert decision.reason == "alarm in ALARM state: latency (p99 above 2 s)"
    cloudwatch.set_alarm_state(AlarmName="latency", StateValue="OK", StateReason="calm again")
    assert not check_alarms(cloudwatch, CONFIG).stop


def test_an_alarm_missing_in_cloudwatch_is_a_poll_failure(cloudwatch: Any) -> None:
    config = AlarmConfiguration(enabled=True, alarms=("errors", "no-such-alarm"))

    decision = check_alarms(cloudwatch, config)

    assert (decision.stop, decision.poll_failed) == (True, True)
    assert "CloudWatch has no alarm named no-such-alarm" in decision.reason
    assert not check_alarms(cloudwatch, AlarmConfiguration(True, True, config.alarms)).stop


def test_an_unreachable_cloudwatch_is_a_poll_failure(fake_aws_credentials: None) -> None:
    unreachable = boto3.client(
        "cloudwatch",
        region_name=AWS_REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )

    decision = check_alarms(unreachable, CONFIG)

    assert (decision.stop, decision.poll_failed) == (True, True)
    assert "CloudWatch describe_alarms failed: Could not connect to the endpoint URL" in decision.reason
    assert "testing" not in decision.reason  # the credentials never show


def test_an_unwatched_configuration_is_not_polled(fake_aws_credentials: None) -> None:
    unreachable = boto3.client("cloudwatch", region_name=AWS_REGION, endpoint_url="http://127.0.0.1:9")
    assert not check_alarms(unreachable, AlarmConfiguration(enabled=False, alarms=("errors",))).stop
