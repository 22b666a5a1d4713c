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
