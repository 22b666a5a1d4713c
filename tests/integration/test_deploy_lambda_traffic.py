"""Shifting a Lambda alias between published versions in moto, step by step as the deployment configuration plans it,
and invoking hook functions (moto runs no code here: the test reads each invocation off the client as it is sent)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.deploy.alarms import AlarmConfiguration, check_alarms
from conveyor.deploy.appspec_lambda import LambdaFunctionTarget
from conveyor.deploy.aws_calls import AwsStepFailed, StepErrorCode
from conveyor.deploy.configs import IntervalUnit, resolve_config
from conveyor.deploy.lambda_traffic import (
    AliasRouting,
    apply_shift,
    check_alias,
    complete,
    invoke_hook,
    read_alias,
    roll_back,
)
from conveyor.deploy.lifecycle import traffic_plan
from conveyor.deploy.platforms import ComputePlatform
from tests.conftest import AWS_REGION

FUNCTION = "checkout"
TARGET = LambdaFunctionTarget("Checkout", FUNCTION, "live", current_version="1", target_version="2")


@pytest.fixture
def settings(tmp_path: Path, fake_aws_credentials: None) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": AWS_REGION})


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


@pytest.fixture
def lambda_client(settings: Settings) -> Iterator[Any]:
    """A function with versions 1 and 2 published and its alias `live` on version 1."""
    with mock_aws(config={"lambda": {"use_docker": False}}):
        role = aws.client("iam", settings).create_role(RoleName="checkout-role", AssumeRolePolicyDocument="{}")
        client = aws.client("lambda", settings)
        client.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="index.handler",
            Code={"ZipFile": _zip("def handler(event, context):\n    return 1\n")},
        )
        client.publish_version(FunctionName=FUNCTION)
        client.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("def handler(event, context):\n    return 2\n"))
        client.publish_version(FunctionName=FUNCTION)
        client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
        yield client


def _shares(client: Any) -> tuple[float, float]:
    routing = read_alias(client, TARGET)
    return round(routing.share("1"), 2), round(routing.share("2"), 2)


def test_a_canary_shifts_ten_percent_then_everything(lambda_client: Any) -> None:
    config = resolve_config("CodeDeployDefault.LambdaCanary10Percent5Minutes", ComputePlatform.LAMBDA)
    assert config.traffic_routing is not None
    first, last = traffic_plan(config.traffic_routing, IntervalUnit.SECONDS)
    assert check_alias(lambda_client, TARGET) == AliasRouting("1")

    apply_shift(lambda_client, TARGET, first)
    alias = lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.1}
    assert _shares(lambda_client) == (0.9, 0.1)
    assert check_alias(lambda_client, TARGET).weights == {"2": 0.1}  # a resumed shift starts again from here

    apply_shift(lambda_client, TARGET, last)
    alias = lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "2"
    assert not alias["RoutingConfig"]["AdditionalVersionWeights"]
    assert _shares(lambda_client) == (0.0, 1.0)


def test_a_linear_shift_adds_its_share_at_each_step(lambda_client: Any) -> None:
    config = resolve_config("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", ComputePlatform.LAMBDA)
    assert config.traffic_routing is not None
    seen = []
    for shift in traffic_plan(config.traffic_routing, IntervalUnit.SECONDS):
        apply_shift(lambda_client, TARGET, shift)
        seen.append(_shares(lambda_client)[1])
    assert seen == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_an_alarm_firing_mid_canary_rolls_the_alias_back(lambda_client: Any, settings: Settings) -> None:
    cloudwatch = aws.client("cloudwatch", settings)
    cloudwatch.put_metric_alarm(
        AlarmName="checkout-errors",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = AlarmConfiguration(enabled=True, alarms=("checkout-errors",))
    config = resolve_config("CodeDeployDefault.LambdaCanary10Percent5Minutes", ComputePlatform.LAMBDA)
    assert config.traffic_routing is not None
    plan = traffic_plan(config.traffic_routing, IntervalUnit.SECONDS)
    check_alias(lambda_client, TARGET)

    reached = []
    for shift in plan:
        apply_shift(lambda_client, TARGET, shift)
        reached.append(shift.percent)
        cloudwatch.set_alarm_state(AlarmName="checkout-errors", StateValue="ALARM", StateReason="5 errors")
        decision = check_alarms(cloudwatch, alarms)
        if decision.stop:
            roll_back(lambda_client, TARGET)
            break

    assert reached == [10]
    assert decision.reason == "alarm in ALARM state: checkout-errors (5 errors)"
    alias = lambda_client.get_alias(FunctionName=FUNCTION, Name="live")
    assert alias["FunctionVersion"] == "1"
    assert not alias["RoutingConfig"]["AdditionalVersionWeights"]


def test_complete_points_the_alias_wholly_at_the_target(lambda_client: Any) -> None:
    complete(lambda_client, TARGET)
    assert _shares(lambda_client) == (0.0, 1.0)


def test_an_alias_elsewhere_than_the_appspec_says_is_refused(lambda_client: Any) -> None:
    lambda_client.update_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="2")
    with pytest.raises(AwsStepFailed) as info:
        check_alias(lambda_client, TARGET)
    assert info.value.error_code is StepErrorCode.INVALID_LAMBDA_CONFIGURATION
    assert info.value.message.startswith(
        "alias live of function checkout points at version 2, not at the appspec's CurrentVersion 1"
    )


def test_an_alias_already_shifting_to_another_version_is_refused(lambda_client: Any) -> None:
    lambda_client.publish_version(FunctionName=FUNCTION)
    lambda_client.update_alias(
        FunctionName=FUNCTION, Name="live", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"3": 0.2}}
    )
    with pytest.raises(AwsStepFailed, match=r"already sends 20 % to version 3; another traffic shift"):
        check_alias(lambda_client, TARGET)


def test_a_missing_alias_or_version_names_the_function(lambda_client: Any) -> None:
    missing_alias = LambdaFunctionTarget("Checkout", FUNCTION, "canary", "1", "2")
    with pytest.raises(AwsStepFailed) as info:
        check_alias(lambda_client, missing_alias)
    assert info.value.error_code is StepErrorCode.INVALID_LAMBDA_FUNCTION
    assert info.value.message.startswith("could not read alias canary of function checkout: ResourceNotFoundException:")
    missing_version = LambdaFunctionTarget("Checkout", FUNCTION, "live", "1", "9")
    with pytest.raises(AwsStepFailed, match=r"could not shift alias live of function checkout to 100 % on version 9"):
        complete(lambda_client, missing_version)


def test_hook_functions_are_invoked_asynchronously_with_the_deployment_and_execution_ids(
    lambda_client: Any,
) -> None:
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append({**params, "Payload": json.loads(params["Payload"])})

    lambda_client.meta.events.register("provide-client-params.lambda.Invoke", record)

    invoke_hook(lambda_client, FUNCTION, "BeforeAllowTraffic", "d-AB1CDEF23", "exec-1")

    assert sent == [
        {
            "FunctionName": FUNCTION,
            "InvocationType": "Event",
            "Payload": {"DeploymentId": "d-AB1CDEF23", "LifecycleEventHookExecutionId": "exec-1"},
        }
    ]


def test_a_hook_function_that_does_not_exist_fails_naming_it(settings: Settings) -> None:
    with mock_aws(config={"lambda": {"use_docker": True}}):  # whose checks come before any container
        client = aws.client("lambda", settings)
        with pytest.raises(AwsStepFailed) as info:
            invoke_hook(client, "no-such-hook", "AfterAllowTraffic", "d-AB1CDEF23", "exec-2")
    assert info.value.error_code is StepErrorCode.INVALID_LAMBDA_FUNCTION
    assert info.value.message.startswith(
        "could not invoke the AfterAllowTraffic hook function no-such-hook: ResourceNotFoundException"
    )
