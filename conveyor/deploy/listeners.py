"""ECS blue/green traffic on ELBv2 listeners (§2.3 of the AWS semantics): weights between a target group pair.

An ECS deployment group has one `loadBalancerInfo.targetGroupPairInfoList` entry: two target groups (the first
serves the original task set, the second the replacement), the production listeners (`prodTrafficRoute`) and,
optionally, the test listeners (`testTrafficRoute`). AllowTestTraffic moves the test listeners wholly to the
second group; AllowTraffic moves the production listeners step by step as `conveyor.deploy.lifecycle.traffic_plan`
says, the orchestration doing the waiting; a rollback moves them back wholly to the first group.

`shift_listener` rewrites every forward action of the listener that reaches either group of the pair — its default
action (`modify_listener`) and its rules (`modify_rule`) — as one weighted forward: `100 - percent` to the first
group and `percent` to the second. Actions that forward elsewhere are left alone; a listener none of whose actions
reaches the pair is refused, naming it. `listener_weights` reads the weights back from the default action.

What moto does: it keeps weighted forward actions on listeners and rules as given and returns them from
`describe_listeners` and `describe_rules`; it routes no traffic, so the weights are all a test can observe. The
task sets behind the groups are `conveyor.deploy.ecs_rollout`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.aws_calls import AWS_ERRORS, AwsStepFailed, StepErrorCode, step_failed
from conveyor.deploy.load_balancers import TargetGroup, resolve_target_groups

_MISSING = ("ListenerNotFound", "ListenerNotFoundException", "RuleNotFound", "RuleNotFoundException")


@dataclass(frozen=True)
class TargetGroupPair:
    original: TargetGroup
    replacement: TargetGroup
    production_listeners: tuple[str, ...]
    test_listeners: tuple[str, ...] = ()


def resolve_pair(elbv2: Any, group: Mapping[str, Any]) -> TargetGroupPair:
    """The target group pair of an ECS deployment group in its request shape, its target groups looked up."""
    [pair] = (group.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
    names = [str(entry["name"]) for entry in pair.get("targetGroups") or []]
    if len(names) != 2:
        raise AwsStepFailed(
            "loadBalancerInfo.targetGroupPairInfoList[0].targetGroups needs two target groups",
            StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
        )
    listed_in = "loadBalancerInfo.targetGroupPairInfoList[0].targetGroups"
    original, replacement = resolve_target_groups(elbv2, names, listed_in)
    production = tuple((pair.get("prodTrafficRoute") or {}).get("listenerArns") or ())
    test = tuple((pair.get("testTrafficRoute") or {}).get("listenerArns") or ())
    return TargetGroupPair(original, replacement, production, test)


def weighted_forward(pair: TargetGroupPair, percent: int) -> list[dict[str, Any]]:
    """One forward action sending `percent` % to the replacement group and the rest to the original. Pure."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a traffic shift is 0 to 100 percent, not {percent}")
    groups = [
        {"TargetGroupArn": pair.original.arn, "Weight": 100 - percent},
        {"TargetGroupArn": pair.replacement.arn, "Weight": percent},
    ]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}]


def reaches_pair(actions: Sequence[Mapping[str, Any]], pair: TargetGroupPair) -> bool:
    """Whether any of these actions forwards to either group of the pair. Pure."""
    arns = {pair.original.arn, pair.replacement.arn}
    return any(arns & set(forward_weights(action)) for action in actions)


def forward_weights(action: Mapping[str, Any]) -> dict[str, int]:
    """The weight of each target group a forward action sends to (a plain forward is 100 % to its group). Pure."""
    if action.get("Type") != "forward":
        return {}
    listed = (action.get("ForwardConfig") or {}).get("TargetGroups")
    if listed:
        return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in listed}
    return {str(action["TargetGroupArn"]): 100} if action.get("TargetGroupArn") else {}


def listener_weights(elbv2: Any, listener_arn: str, pair: TargetGroupPair) -> dict[str, int]:
    """The percent of the listener's default traffic each group of the pair gets, by target group name."""
    try:
        [listener] = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    except AWS_ERRORS as exc:
        raise _failed(f"could not read listener {listener_arn}", exc) from None
    weights: dict[str, int] = {}
    for action in listener.get("DefaultActions", []):
        weights.update(forward_weights(action))
    total = sum(weights.values()) or 1
    return {g.name: round(100 * weights.get(g.arn, 0) / total) for g in (pair.original, pair.replacement)}


def shift_listener(elbv2: Any, listener_arn: str, pair: TargetGroupPair, percent: int) -> None:
    """Send `percent` % of what the listener forwards to the pair to the replacement group (default and rules)."""
    actions = weighted_forward(pair, percent)
    try:
        [listener] = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
        rules = elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
        reached = False
        if reaches_pair(listener.get("DefaultActions", []), pair):
            elbv2.modify_listener(ListenerArn=listener_arn, DefaultActions=actions)
            reached = True
        for rule in rules:
            if not rule.get("IsDefault") and reaches_pair(rule.get("Actions", []), pair):
                elbv2.modify_rule(RuleArn=rule["RuleArn"], Actions=actions)
                reached = True
    except AWS_ERRORS as exc:
        raise _failed(
            f"could not shift listener {listener_arn} to {percent} % on {pair.replacement.name}", exc
        ) from None
    if not reached:
        raise AwsStepFailed(
            f"listener {listener_arn} forwards to neither target group {pair.original.name} nor "
            f"{pair.replacement.name}",
            StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID,
        )


def shift_production(elbv2: Any, pair: TargetGroupPair, percent: int) -> None:
    """AllowTraffic's step (or a rollback at 0): the production listeners at `percent` % on the replacement."""
    for listener_arn in pair.production_listeners:
        shift_listener(elbv2, listener_arn, pair, percent)


def allow_test_traffic(elbv2: Any, pair: TargetGroupPair) -> None:
    """AllowTestTraffic: the test listeners wholly on the replacement group (nothing when there are none)."""
    for listener_arn in pair.test_listeners:
        shift_listener(elbv2, listener_arn, pair, 100)


def _failed(what: str, exc: Any) -> AwsStepFailed:
    return step_failed(what, exc, StepErrorCode.ELASTIC_LOAD_BALANCING_INVALID, *_MISSING)
