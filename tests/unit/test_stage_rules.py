"""Stage rules in definitions: onFailure, beforeEntry and onSuccess are checked with every problem's path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.errors import SpecError
from conveyor.pipeline.spec import parse_pipeline
from conveyor.pipeline.stage_rules import Condition, FailureRule, Rule
from tests.unit.test_pipeline_engine import build_action, source_action

WINDOW = {
    "name": "Window",
    "ruleTypeId": {"category": "Rule", "provider": "DeploymentWindow"},
    "configuration": {"Cron": "* * 9-17 ? * MON-FRI", "TimeZone": "Europe/Paris"},
}


def _document(mode: str = "SUPERSEDED", pipeline_type: str = "V2", **build_stage: Any) -> str:
    return json.dumps(
        {
            "name": "rules",
            "pipelineType": pipeline_type,
            "executionMode": mode,
            "stages": [
                {"name": "Source", "actions": [source_action("Checkout")]},
                {"name": "Build", "actions": [build_action("Compile")], **build_stage},
            ],
        }
    )


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as caught:
        parse_pipeline(text)
    return [(p.path, p.message) for p in caught.value.problems]


def test_valid_rules_are_read_into_the_stage() -> None:
    definition = parse_pipeline(
        _document(
            onFailure={"result": "RETRY", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}},
            beforeEntry={"conditions": [{"result": "SKIP", "rules": [WINDOW]}]},
            onSuccess={"conditions": [{"result": "ROLLBACK", "rules": [WINDOW]}]},
        )
    )
    rules = definition.stage("Build").rules
    window = Rule("Window", "DeploymentWindow", {"Cron": "* * 9-17 ? * MON-FRI", "TimeZone": "Europe/Paris"})
    assert rules.on_failure == FailureRule("RETRY", "ALL_ACTIONS", None)
    assert rules.before_entry == Condition("SKIP", (window,))
    assert rules.on_success == Condition("ROLLBACK", (window,))


def test_every_misused_rule_is_reported_with_its_path() -> None:
    unknown = {"name": "Lint", "ruleTypeId": {"category": "Rule", "provider": "VariableCheck"}}
    no_cron = {"name": "W", "ruleTypeId": {"category": "Rule", "provider": "DeploymentWindow"}, "configuration": {}}
    problems = _problems(
        _document(
            mode="PARALLEL",
            onFailure={"result": "ROLLBACK", "conditions": [{"result": "ROLLBACK", "rules": [WINDOW]}]},
            beforeEntry={"conditions": [{"result": "ROLLBACK", "rules": [unknown]}]},
            onSuccess={"conditions": [{"result": "SKIP", "rules": [no_cron]}]},
        )
    )
    assert problems == [
        ("stages[1].beforeEntry.conditions[0].result", "the result of a beforeEntry condition is FAIL or SKIP"),
        (
            "stages[1].beforeEntry.conditions[0].rules[0].ruleTypeId.provider",
            "Conveyor runs the rule providers CloudWatchAlarm, DeploymentWindow, not 'VariableCheck'",
        ),
        (
            "stages[1].onFailure.conditions",
            "conditions under onFailure are not run yet: give only result and retryConfiguration",
        ),
        ("stages[1].onFailure.conditions[0].result", "ROLLBACK is not available in PARALLEL execution mode"),
        ("stages[1].onFailure.result", "ROLLBACK is not available in PARALLEL execution mode"),
        ("stages[1].onSuccess.conditions[0].result", "the result of an onSuccess condition is ROLLBACK or FAIL"),
        ("stages[1].onSuccess.conditions[0].rules[0].configuration", "missing required configuration key 'Cron'"),
    ]


def test_rules_need_v2_and_the_source_stage_is_never_rolled_back() -> None:
    assert ("stages[1].beforeEntry", "'beforeEntry' needs pipelineType V2") in _problems(
        _document(pipeline_type="V1", beforeEntry={"conditions": [{"result": "FAIL", "rules": [WINDOW]}]})
    )
    document = json.loads(_document())
    document["stages"][0]["onFailure"] = {"result": "ROLLBACK"}
    assert ("stages[0].onFailure.result", "the source stage cannot be rolled back") in _problems(json.dumps(document))
    document["stages"][0]["onFailure"] = {"result": "FAIL", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}}
    assert ("stages[0].onFailure.retryConfiguration", "retryConfiguration goes with result RETRY") in _problems(
        json.dumps(document)
    )


def _window(cron: str, zone: str | None = None) -> dict[str, Any]:
    configuration = {"Cron": cron, **({"TimeZone": zone} if zone else {})}
    return {**WINDOW, "configuration": configuration}


def test_a_window_that_cannot_be_read_is_reported_when_the_pipeline_is_defined() -> None:
    conditions = [
        {"result": "FAIL", "rules": [_window("0 * 9-17 ? * MON-FRI"), _window("* * 25 ? * *", "Mars/Olympus")]}
    ]
    problems = _problems(_document(beforeEntry={"conditions": conditions}))
    rule = "stages[1].beforeEntry.conditions[0].rules"
    assert problems == [
        (f"{rule}[0].configuration.Cron", "not a deployment window: Seconds: only '*' goes here, not '0'"),
        (f"{rule}[1].configuration.Cron", "not a deployment window: Hours: 25 is out of range 0-23"),
        (
            f"{rule}[1].configuration.TimeZone",
            "unknown time zone 'Mars/Olympus': give an IANA name such as Europe/Paris",
        ),
    ]


def test_a_window_filled_in_by_a_variable_is_read_when_the_rule_runs() -> None:
    rule = _window("#{variables.window}", "#{variables.zone}")
    definition = parse_pipeline(_document(beforeEntry={"conditions": [{"result": "FAIL", "rules": [rule]}]}))
    assert definition.stage("Build").rules.before_entry is not None
