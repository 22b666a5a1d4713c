"""What a stage does around its actions (V2): `onFailure` (retry or roll back), and `beforeEntry` / `onSuccess`
conditions made of rules.

Shapes as CodePipeline's API has them:

* `onFailure`: `{result: ROLLBACK | FAIL | RETRY, retryConfiguration: {retryMode}, conditions: [Condition]}`
* `beforeEntry`: `{conditions: [Condition]}` with result `FAIL | SKIP`
* `onSuccess`: `{conditions: [Condition]}` with result `ROLLBACK | FAIL`
* `Condition`: `{result, rules: [1..5 RuleDeclaration]}`; a rule names `ruleTypeId.provider`
  (`CloudWatchAlarm`, `DeploymentWindow`) and its `configuration`.

Pure parsing and validation; the rules run in `conveyor.pipeline.conditions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from conveyor.schedules.cron_fields import ExpressionError, window_fields
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

RETRY_MODES = ("FAILED_ACTIONS", "ALL_ACTIONS")
RULE_PROVIDERS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # provider → (required, optional) keys
    "CloudWatchAlarm": (frozenset({"AlarmName"}), frozenset({"WaitTime"})),
    "DeploymentWindow": (frozenset({"Cron"}), frozenset({"TimeZone"})),
}
CONDITION_RESULTS = {
    "onFailure": ("ROLLBACK", "FAIL", "RETRY"),
    "beforeEntry": ("FAIL", "SKIP"),
    "onSuccess": ("ROLLBACK", "FAIL"),
}


@dataclass(frozen=True)
class Rule:
    name: str
    provider: str
    configuration: dict[str, str]
    region: str | None = None
    role_arn: str | None = None


@dataclass(frozen=True)
class Condition:
    result: str
    rules: tuple[Rule, ...]


@dataclass(frozen=True)
class FailureRule:
    """`onFailure`: what happens when the stage fails (FAIL, the default, ends the execution)."""

    result: str
    retry_mode: str = "FAILED_ACTIONS"
    condition: Condition | None = None


@dataclass(frozen=True)
class StageRules:
    on_failure: FailureRule | None = None
    before_entry: Condition | None = None
    on_success: Condition | None = None


def stage_rules(stage: dict[str, Any]) -> StageRules:
    """The typed rules of a stage object that `check_stage_rules` found valid."""
    failure = stage.get("onFailure")
    on_failure = None
    if failure:
        retry_mode = (failure.get("retryConfiguration") or {}).get("retryMode", "FAILED_ACTIONS")
        on_failure = FailureRule(failure.get("result", "FAIL"), retry_mode, _condition(failure))
    return StageRules(on_failure, _condition(stage.get("beforeEntry")), _condition(stage.get("onSuccess")))


def _condition(block: dict[str, Any] | None) -> Condition | None:
    if not block or not block.get("conditions"):
        return None
    condition = block["conditions"][0]
    rules = tuple(
        Rule(
            rule["name"],
            rule["ruleTypeId"]["provider"],
            {k: str(v) for k, v in (rule.get("configuration") or {}).items()},
            rule.get("region"),
            rule.get("roleArn"),
        )
        for rule in condition["rules"]
    )
    return Condition(condition["result"], rules)


def check_stage_rules(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    """Rules between fields the schema cannot express; the shapes themselves are in the JSON Schema."""
    parallel = data.get("executionMode") == "PARALLEL"
    for s_index, stage in enumerate(data["stages"]):
        path = (*prefix, "stages", s_index)
        for kind in ("onFailure", "beforeEntry", "onSuccess"):
            block = stage.get(kind)
            if block is None:
                continue
            if data["pipelineType"] != "V2":
                problems.add((*path, kind), f"'{kind}' needs pipelineType V2")
            if kind != "onFailure" and not block.get("conditions"):
                problems.add((*path, kind, "conditions"), f"'{kind}' needs one condition")
            for c_index, condition in enumerate(block.get("conditions") or []):
                _check_condition(kind, condition, parallel, (*path, kind, "conditions", c_index), problems)
        _check_failure(stage.get("onFailure") or {}, parallel, s_index == 0, (*path, "onFailure"), problems)


def _check_condition(
    kind: str, condition: dict[str, Any], parallel: bool, path: SpecPath, problems: ProblemList
) -> None:
    if condition["result"] not in CONDITION_RESULTS[kind]:
        article = "an" if kind.startswith("on") else "a"
        allowed = " or ".join(CONDITION_RESULTS[kind])
        problems.add((*path, "result"), f"the result of {article} {kind} condition is {allowed}")
    elif parallel and condition["result"] == "ROLLBACK":
        problems.add((*path, "result"), "ROLLBACK is not available in PARALLEL execution mode")
    for r_index, rule in enumerate(condition["rules"]):
        _check_rule(rule, (*path, "rules", r_index), problems)


def _check_failure(
    failure: dict[str, Any], parallel: bool, source_stage: bool, path: SpecPath, problems: ProblemList
) -> None:
    if failure.get("conditions"):
        problems.add(
            (*path, "conditions"), "conditions under onFailure are not run yet: give only result and retryConfiguration"
        )
    if failure.get("result") == "ROLLBACK" and parallel:
        problems.add((*path, "result"), "ROLLBACK is not available in PARALLEL execution mode")
    if "retryConfiguration" in failure and failure.get("result") != "RETRY":
        problems.add((*path, "retryConfiguration"), "retryConfiguration goes with result RETRY")
    if source_stage and failure.get("result") == "ROLLBACK":
        problems.add((*path, "result"), "the source stage cannot be rolled back")


def _check_rule(rule: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    provider = rule["ruleTypeId"]["provider"]
    if provider not in RULE_PROVIDERS:
        known = ", ".join(sorted(RULE_PROVIDERS))
        problems.add((*path, "ruleTypeId", "provider"), f"Conveyor runs the rule providers {known}, not {provider!r}")
        return
    required, optional = RULE_PROVIDERS[provider]
    config = rule.get("configuration") or {}
    for key in sorted(required - set(config)):
        problems.add((*path, "configuration"), f"missing required configuration key {key!r}")
    for key in sorted(set(config) - required - optional):
        problems.add((*path, "configuration", key), f"unknown configuration key for rule provider {provider}")
    if provider == "DeploymentWindow":
        _check_window(config, (*path, "configuration"), problems)


def _check_window(config: dict[str, Any], path: SpecPath, problems: ProblemList) -> None:
    """A window's Cron and TimeZone, unless a variable fills them in when the rule runs."""
    cron, zone = config.get("Cron"), config.get("TimeZone")
    if isinstance(cron, str) and "#{" not in cron:
        try:
            window_fields(cron)
        except ExpressionError as exc:
            where = f"{exc.field}: " if exc.field else ""
            problems.add((*path, "Cron"), f"not a deployment window: {where}{exc.reason}")
    if isinstance(zone, str) and zone and "#{" not in zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add((*path, "TimeZone"), f"unknown time zone {zone!r}: give an IANA name such as Europe/Paris")
