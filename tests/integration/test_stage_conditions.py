"""Stage conditions on real workers, with CloudWatch through moto: beforeEntry and onSuccess rules, FAIL and SKIP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION
from tests.support.approvals import answer, approval_action
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, source_action

EVERY_MINUTE = "* * * ? * *"
NEVER_NOW = "* * * ? * * 2199"


def _alarm_rule(names: str) -> dict[str, Any]:
    return {
        "name": "NoErrors",
        "ruleTypeId": {"category": "Rule", "provider": "CloudWatchAlarm"},
        "configuration": {"AlarmName": names},
    }


def _window_rule(cron: str) -> dict[str, Any]:
    return {
        "name": "Window",
        "ruleTypeId": {"category": "Rule", "provider": "DeploymentWindow"},
        "configuration": {"Cron": cron, "TimeZone": "Europe/Paris"},
    }


def _define(rt: Runtime, repo: GitRepo, name: str, **gate_conditions: Any) -> None:
    document = {
        "pipeline": {
            "name": name,
            "pipelineType": "V2",
            "executionMode": "PARALLEL",  # the executions of a test do not wait for each other
            "stages": [
                {"name": "Source", "actions": [source_action(repo.url)]},
                {"name": "Gate", "actions": [approval_action("Review")], **gate_conditions},
                {"name": "Release", "actions": [approval_action("Ship")]},
            ],
        }
    }
    definitions.create_pipeline(rt, as_yaml(document))


def _when(result: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {"conditions": [{"result": result, "rules": list(rules)}]}


@pytest.fixture
def cloudwatch(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name=AWS_REGION)
        client.put_metric_alarm(
            AlarmName="errors",
            MetricName="Errors",
            Namespace="App",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )
        yield client


def _gate(rt: Runtime, execution_id: str) -> dict[str, Any]:
    return views.get_execution(rt, execution_id)["stages"][1]


def test_before_entry_alarm_lets_the_stage_in_while_quiet_and_fails_it_in_alarm(
    rt: Runtime, repo: GitRepo, run_jobs: Any, cloudwatch: Any
) -> None:
    repo.commit({"README": "one"})
    _define(rt, repo, "alarmed", beforeEntry=_when("FAIL", _alarm_rule("errors")))

    quiet = pipelines.start_pipeline(rt, "alarmed")
    run_jobs()
    gate = _gate(rt, quiet)
    assert gate["status"] == "InProgress"
    assert gate["actions"][0]["token"]  # the approval started once the condition passed
    assert gate["beforeEntryConditionState"]["status"] == "Succeeded"
    assert gate["beforeEntryConditionState"]["rules"] == [
        {"name": "NoErrors", "passed": True, "summary": "no alarm in ALARM: errors"}
    ]

    cloudwatch.set_alarm_state(AlarmName="errors", StateValue="ALARM", StateReason="errors spiked")
    noisy = pipelines.start_pipeline(rt, "alarmed")
    run_jobs()
    execution = views.get_execution(rt, noisy)
    assert execution["status"] == "Failed"
    assert execution["statusSummary"] == "Stage Gate failed: its beforeEntry condition failed"
    gate = _gate(rt, noisy)
    assert gate["beforeEntryConditionState"]["summary"] == "NoErrors: alarm errors is in ALARM"
    assert gate["actions"][0]["status"] is None  # never started


def test_a_missing_alarm_fails_the_condition_naming_it(
    rt: Runtime, repo: GitRepo, run_jobs: Any, cloudwatch: Any
) -> None:
    repo.commit({"README": "one"})
    _define(rt, repo, "missing", beforeEntry=_when("FAIL", _alarm_rule("errors, latency")))
    execution_id = pipelines.start_pipeline(rt, "missing")
    run_jobs()
    assert _gate(rt, execution_id)["beforeEntryConditionState"]["summary"] == (
        "NoErrors: no CloudWatch alarm named latency"
    )


def test_a_closed_deployment_window_skips_the_stage_and_an_open_one_lets_it_succeed(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    _define(rt, repo, "windowed", beforeEntry=_when("SKIP", _window_rule(NEVER_NOW)))
    execution_id = pipelines.start_pipeline(rt, "windowed")
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["stages"][1]["status"] == "Skipped"
    assert "is outside the deployment window" in execution["stages"][1]["beforeEntryConditionState"]["summary"]
    assert execution["stages"][2]["status"] == "InProgress"  # the next stage went on

    _define(rt, repo, "open", onSuccess=_when("FAIL", _window_rule(EVERY_MINUTE)))
    opened = pipelines.start_pipeline(rt, "open")
    run_jobs()

    answer(rt, "open", opened, "Gate", "Review")
    run_jobs()
    gate = _gate(rt, opened)
    assert gate["status"] == "Succeeded"
    assert gate["onSuccessConditionState"]["status"] == "Succeeded"
    assert "CET" in gate["onSuccessConditionState"]["summary"] or "CEST" in gate["onSuccessConditionState"]["summary"]
