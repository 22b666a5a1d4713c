"""The Lambda compute platform in a rollout: what a deployment records of its AppSpec, and the platform's actions.

A Lambda deployment keeps on its row (`Deployment.fleet`, see `conveyor.deploy.traffic_deployments`) the function
target of its AppSpec and its hook functions, read once when the deployment is created, so the job that runs it
never fetches the revision again. `LambdaActions` is the platform side of the runner
(`conveyor.deploy.rollout_runner.PlatformActions`), through one `lambda` client:

* Start: the alias must be where the AppSpec says the deployment starts from (`lambda_traffic.check_alias`; a
  weight already on the target version is a deployment resumed after a restart). A rollback checks nothing;
* each traffic shift of AllowTraffic: `lambda_traffic.apply_shift` (absolute weights, so making a shift again
  after a restart changes nothing);
* BeforeAllowTraffic / AfterAllowTraffic: the hook function invoked asynchronously;
* End, and once every event has succeeded: nothing more to do.

Decision where AWS says nothing: the rollback of a Lambda deployment is a deployment of the same function and
alias with the two versions swapped (`rollback_revision`): it moves the alias wholly back to the version the failed
deployment started from. It is possible even when no deployment of the group ever succeeded, since the failed
deployment's own AppSpec names the version to go back to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.appspec_lambda import LambdaAppSpec, LambdaFunctionTarget
from conveyor.deploy.lambda_traffic import apply_shift, check_alias, invoke_hook
from conveyor.deploy.lifecycle import LifecycleEvent, TrafficShift


def target_id(target: LambdaFunctionTarget) -> str:
    """The target as CodeDeploy names a Lambda deployment's target: `<function>:<alias>`."""
    return f"{target.name}:{target.alias}"


def encode_target(target: LambdaFunctionTarget) -> dict[str, str]:
    return {
        "logicalName": target.logical_name,
        "name": target.name,
        "alias": target.alias,
        "currentVersion": target.current_version,
        "targetVersion": target.target_version,
    }


def decode_target(data: dict[str, Any]) -> LambdaFunctionTarget:
    return LambdaFunctionTarget(
        data["logicalName"], data["name"], data["alias"], data["currentVersion"], data["targetVersion"]
    )


def recorded(spec: LambdaAppSpec) -> dict[str, Any]:
    """What a Lambda deployment keeps of its AppSpec."""
    return {"target": encode_target(spec.function), "hooks": dict(spec.hooks)}


def rollback_revision(target: LambdaFunctionTarget) -> dict[str, Any]:
    """The revision of a rollback: an AppSpec that moves the alias from the target version back to the current."""
    appspec = {
        "version": "0.0",
        "Resources": [
            {
                target.logical_name: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": target.name,
                        "Alias": target.alias,
                        "CurrentVersion": target.target_version,
                        "TargetVersion": target.current_version,
                    },
                }
            }
        ],
    }
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": json.dumps(appspec, indent=2)}}


def swapped(target: LambdaFunctionTarget) -> LambdaFunctionTarget:
    return LambdaFunctionTarget(
        target.logical_name, target.name, target.alias, target.target_version, target.current_version
    )


@dataclass(frozen=True)
class LambdaActions:
    """The platform actions of a Lambda rollout (see the module's docstring)."""

    client: Any
    target: LambdaFunctionTarget
    rollback: bool = False

    def run_event(self, event: LifecycleEvent) -> None:
        if event is LifecycleEvent.START and not self.rollback:
            check_alias(self.client, self.target)

    def shift(self, shift: TrafficShift) -> None:
        apply_shift(self.client, self.target, shift)

    def invoke_hook(self, function: str, event: str, deployment_id: str, execution_id: str) -> None:
        invoke_hook(self.client, function, event, deployment_id, execution_id)

    def complete(self) -> None:
        """Nothing is left to do once the alias is wholly on the target version."""
