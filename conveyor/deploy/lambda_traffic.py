"""Moving a Lambda alias from one published version to another (§2.4 of the AWS semantics), and its hook functions.

A Lambda deployment's AllowTraffic event shifts the appspec's alias from `CurrentVersion` to `TargetVersion`
through the alias's routing configuration, step by step as `conveyor.deploy.lifecycle.traffic_plan` says; the
orchestration does the waiting and calls, through one `lambda` client from `conveyor.aws.client`:

1. `check_alias` before the first shift: the alias must point at `CurrentVersion`, with no weight on a version
   other than `TargetVersion` (a weight on the target is a deployment resumed after a restart);
2. `apply_shift` for each `TrafficShift`: `percent` % on the target version as an additional version weight, the
   rest on the current one, and at 100 % the alias pointing wholly at the target version;
3. `complete` (the alias wholly on the target version) or `roll_back` (wholly back on the current version).

`invoke_hook` invokes a BeforeAllowTraffic or AfterAllowTraffic function asynchronously (InvocationType Event) with
`{"DeploymentId", "LifecycleEventHookExecutionId"}`; the function reports back as `PutLifecycleEventHookExecutionStatus`
does, and `parse_hook_status` reads that request. Every failed call raises `AwsStepFailed` naming the function, the
alias and AWS's reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conveyor.deploy.appspec_lambda import LambdaFunctionTarget
from conveyor.deploy.aws_calls import AWS_ERRORS, AwsStepFailed, StepErrorCode, step_failed
from conveyor.deploy.lifecycle import TrafficShift

_MISSING = "ResourceNotFoundException"


@dataclass(frozen=True)
class AliasRouting:
    """Where an alias sends traffic: `version` takes what the additional `weights` (0.0 to 1.0, by version) leave."""

    version: str
    weights: Mapping[str, float] = field(default_factory=dict)

    def share(self, version: str) -> float:
        """The fraction of the traffic `version` gets."""
        extra = sum(self.weights.values())
        return 1.0 - extra if version == self.version else float(self.weights.get(version, 0.0))


def routing_for(target: LambdaFunctionTarget, percent: int) -> AliasRouting:
    """The alias routing with `percent` % of the traffic on the target version. Pure."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a traffic shift is 0 to 100 percent, not {percent}")
    if percent == 100:
        return AliasRouting(target.target_version)
    if percent == 0:
        return AliasRouting(target.current_version)
    return AliasRouting(target.current_version, {target.target_version: percent / 100})


def where(target: LambdaFunctionTarget) -> str:
    return f"alias {target.alias} of function {target.name}"


def read_alias(client: Any, target: LambdaFunctionTarget) -> AliasRouting:
    """The alias's routing as Lambda has it now."""
    try:
        alias = client.get_alias(FunctionName=target.name, Name=target.alias)
    except AWS_ERRORS as exc:
        raise _failed(f"could not read {where(target)}", exc) from None
    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    return AliasRouting(str(alias["FunctionVersion"]), {str(k): float(v) for k, v in weights.items()})


def check_alias(client: Any, target: LambdaFunctionTarget) -> AliasRouting:
    """The alias's routing, refused unless it is where the appspec says the deployment starts from."""
    routing = read_alias(client, target)
    problem = alias_mismatch(routing, target)
    if problem is not None:
        raise AwsStepFailed(f"{where(target)} {problem}", StepErrorCode.INVALID_LAMBDA_CONFIGURATION)
    return routing


def alias_mismatch(routing: AliasRouting, target: LambdaFunctionTarget) -> str | None:
    """Why the alias is not where the deployment starts from (None when it is). Pure."""
    if routing.version != target.current_version:
        return (
            f"points at version {routing.version}, not at the appspec's CurrentVersion {target.current_version}: "
            "update CurrentVersion, or move the alias back first"
        )
    others = sorted(v for v in routing.weights if v != target.target_version)
    if others:
        shares = ", ".join(f"{round(routing.weights[v] * 100)} % to version {v}" for v in others)
        return f"already sends {shares}; another traffic shift seems under way"
    return None


def apply_shift(client: Any, target: LambdaFunctionTarget, shift: TrafficShift) -> AliasRouting:
    """Put `shift.percent` % of the alias's traffic on the target version; the caller waits `shift.wait_seconds`."""
    return _update(client, target, routing_for(target, shift.percent))


def complete(client: Any, target: LambdaFunctionTarget) -> AliasRouting:
    """Point the alias wholly at the target version."""
    return _update(client, target, routing_for(target, 100))


def roll_back(client: Any, target: LambdaFunctionTarget) -> AliasRouting:
    """Point the alias wholly back at the current version."""
    return _update(client, target, routing_for(target, 0))


def _update(client: Any, target: LambdaFunctionTarget, routing: AliasRouting) -> AliasRouting:
    try:
        client.update_alias(
            FunctionName=target.name,
            Name=target.alias,
            FunctionVersion=routing.version,
            RoutingConfig={"AdditionalVersionWeights": dict(routing.weights)},
        )
    except AWS_ERRORS as exc:
        share = round(routing.share(target.target_version) * 100)
        raise _failed(f"could not shift {where(target)} to {share} % on version {target.target_version}", exc) from None
    return routing


def hook_event(deployment_id: str, execution_id: str) -> dict[str, str]:
    """The event CodeDeploy invokes a hook function with."""
    return {"DeploymentId": deployment_id, "LifecycleEventHookExecutionId": execution_id}


def invoke_hook(client: Any, function: str, event_name: str, deployment_id: str, execution_id: str) -> None:
    """Invoke the hook function of lifecycle event `event_name` asynchronously; it reports back on its own."""
    payload = json.dumps(hook_event(deployment_id, execution_id)).encode()
    try:
        client.invoke(FunctionName=function, InvocationType="Event", Payload=payload)
    except AWS_ERRORS as exc:
        raise _failed(f"could not invoke the {event_name} hook function {function}", exc) from None


def _failed(what: str, exc: Any) -> AwsStepFailed:
    return step_failed(what, exc, StepErrorCode.INVALID_LAMBDA_FUNCTION, _MISSING)
