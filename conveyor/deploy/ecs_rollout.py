"""The ECS compute platform in a rollout (blue/green): the replacement task set, and the listeners moved to it.

An ECS deployment keeps on its row what its job needs, read once at creation: the AppSpec's service target and
hooks, and the group's service (`ecsServices[0]`) and `loadBalancerInfo`. `EcsActions` is the platform side of
the runner (`conveyor.deploy.rollout_runner.PlatformActions`), through one `ecs` and one `elbv2` client:

* Install: the replacement task set is created in the service (`create_task_set`) with the AppSpec's task
  definition behind the pair's second target group (`LoadBalancerInfo` container and port), at 100 % scale, with the
  AppSpec's network configuration, platform version and capacity provider strategy (else the service's network
  configuration and launch type);
  its `externalId` is the deployment id, so a job resumed after a restart finds it instead of making another;
* AllowTestTraffic: the test listeners wholly to the second target group (`listeners.allow_test_traffic`);
* each traffic shift of AllowTraffic: the production listeners' weights (`listeners.shift_production`);
* once every event has succeeded (`complete`): the replacement becomes the service's primary task set and the other
  task sets (the original) are deleted;
* a rollback's one event, AllowTraffic: the production and test listeners wholly back to the first target group,
  then the replacement task set of the deployment rolled back is deleted.

Decisions where AWS says nothing or Conveyor does less: the original task set is deleted as soon as the deployment
succeeds (`terminationWaitTimeInMinutes` is not waited for); a task definition written as a pipeline's
`<PLACEHOLDER>` is refused when the deployment is created, since only CodePipeline's ECS blue/green action fills it
in; the target of an ECS deployment is named `<cluster>:<service>`, as CodeDeploy names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.deploy.appspec_ecs import (
    PLACEHOLDER,
    AwsVpcConfiguration,
    CapacityProviderStrategyItem,
    EcsAppSpec,
    EcsServiceTarget,
)
from conveyor.deploy.aws_calls import AWS_ERRORS, StepErrorCode, step_failed
from conveyor.deploy.lambda_traffic import invoke_hook
from conveyor.deploy.lifecycle import LifecycleEvent, TrafficShift
from conveyor.deploy.listeners import (
    TargetGroupPair,
    allow_test_traffic,
    resolve_pair,
    shift_listener,
    shift_production,
)
from conveyor.errors import InvalidRequest

_MISSING = ("ServiceNotFoundException", "ClusterNotFoundException", "ClientException", "TaskSetNotFoundException")


def ecs_service(group: dict[str, Any]) -> dict[str, str]:
    """The group's one service: `{serviceName, clusterName}`."""
    [service] = group["ecsServices"]
    return {"serviceName": str(service["serviceName"]), "clusterName": str(service["clusterName"])}


def target_id(service: dict[str, str]) -> str:
    return f"{service['clusterName']}:{service['serviceName']}"


def recorded(spec: EcsAppSpec, group: dict[str, Any]) -> dict[str, Any]:
    """What an ECS deployment keeps of its AppSpec and group; refuses a task definition placeholder."""
    target = spec.service
    if PLACEHOLDER.match(target.task_definition):
        raise InvalidRequest(
            f"the AppSpec's TaskDefinition is the placeholder {target.task_definition}, which only CodePipeline's "
            "ECS blue/green action fills in: name a task definition (family:revision or ARN)"
        )
    return {
        "target": _encode_target(target),
        "hooks": dict(spec.hooks),
        "service": ecs_service(group),
        "loadBalancerInfo": group["loadBalancerInfo"],
    }


def _encode_target(target: EcsServiceTarget) -> dict[str, Any]:
    network = target.network_configuration
    return {
        "logicalName": target.logical_name,
        "taskDefinition": target.task_definition,
        "containerName": target.container_name,
        "containerPort": target.container_port,
        "platformVersion": target.platform_version,
        "network": None
        if network is None
        else {
            "subnets": list(network.subnets),
            "securityGroups": list(network.security_groups),
            "assignPublicIp": network.assign_public_ip,
        },
        "capacityProviderStrategy": [
            {"capacityProvider": s.capacity_provider, "base": s.base, "weight": s.weight}
            for s in target.capacity_provider_strategy
        ],
    }


def decode_target(data: dict[str, Any]) -> EcsServiceTarget:
    network = data.get("network")
    return EcsServiceTarget(
        data["logicalName"],
        data["taskDefinition"],
        data["containerName"],
        int(data["containerPort"]),
        data.get("platformVersion"),
        None
        if network is None
        else AwsVpcConfiguration(
            tuple(network["subnets"]), tuple(network["securityGroups"]), network["assignPublicIp"]
        ),
        tuple(
            CapacityProviderStrategyItem(s["capacityProvider"], int(s["base"]), int(s["weight"]))
            for s in data.get("capacityProviderStrategy", [])
        ),
    )


@dataclass(frozen=True)
class EcsActions:
    """The platform actions of an ECS rollout (see the module's docstring)."""

    ecs: Any
    elbv2: Any
    functions: Any  # the lambda client the hook functions are invoked through
    recorded: dict[str, Any]
    deployment_id: str
    rollback: bool = False

    @property
    def _service(self) -> dict[str, str]:
        return dict(self.recorded["service"])

    def _pair(self) -> TargetGroupPair:
        return resolve_pair(self.elbv2, {"loadBalancerInfo": self.recorded["loadBalancerInfo"]})

    def run_event(self, event: LifecycleEvent) -> None:
        if event is LifecycleEvent.INSTALL:
            self._install()
        elif event is LifecycleEvent.ALLOW_TEST_TRAFFIC:
            allow_test_traffic(self.elbv2, self._pair())

    def shift(self, shift: TrafficShift) -> None:
        pair = self._pair()
        if not self.rollback:
            shift_production(self.elbv2, pair, shift.percent)
            return
        shift_production(self.elbv2, pair, 0)
        for listener_arn in pair.test_listeners:
            shift_listener(self.elbv2, listener_arn, pair, 0)
        for task_set in self._task_sets(str(self.recorded["replacementOf"])):
            self._call("delete the replacement task set", "delete_task_set", taskSet=task_set["taskSetArn"])

    def invoke_hook(self, function: str, event: str, deployment_id: str, execution_id: str) -> None:
        invoke_hook(self.functions, function, event, deployment_id, execution_id)

    def complete(self) -> None:
        """The replacement task set becomes the primary one; the original task sets are deleted."""
        made = self._task_sets(self.deployment_id)
        if not made:
            return  # a rollback: it made no task set
        arn = made[0]["taskSetArn"]
        self._call("make the replacement task set primary", "update_service_primary_task_set", primaryTaskSet=arn)
        for task_set in self._task_sets(None):
            if task_set["taskSetArn"] != arn:
                self._call("delete the original task set", "delete_task_set", taskSet=task_set["taskSetArn"])

    def _install(self) -> None:
        if self._task_sets(self.deployment_id):
            return  # made by an earlier attempt of this job
        target = decode_target(self.recorded["target"])
        balancer = {
            "targetGroupArn": self._pair().replacement.arn,
            "containerName": target.container_name,
            "containerPort": target.container_port,
        }
        params: dict[str, Any] = {
            "taskDefinition": target.task_definition,
            "externalId": self.deployment_id,
            "loadBalancers": [balancer],
            "scale": {"unit": "PERCENT", "value": 100.0},
            **self._placement(target),
        }
        self._call("create the replacement task set", "create_task_set", **params)

    def _placement(self, target: EcsServiceTarget) -> dict[str, Any]:
        """Where the replacement's tasks run: the AppSpec's settings, else the service's own."""
        answer = self._call("read the service", "describe_services", services=[self._service["serviceName"]])
        found: list[dict[str, Any]] = answer.get("services", [])
        service = found[0] if found else {}
        placement: dict[str, Any] = {}
        if target.platform_version:
            placement["platformVersion"] = target.platform_version
        network = target.network_configuration
        if network is not None:
            awsvpc = {
                "subnets": list(network.subnets),
                "securityGroups": list(network.security_groups),
                "assignPublicIp": network.assign_public_ip,
            }
            placement["networkConfiguration"] = {"awsvpcConfiguration": awsvpc}
        elif service.get("networkConfiguration"):
            placement["networkConfiguration"] = service["networkConfiguration"]
        if target.capacity_provider_strategy:
            placement["capacityProviderStrategy"] = [
                {"capacityProvider": s.capacity_provider, "base": s.base, "weight": s.weight}
                for s in target.capacity_provider_strategy
            ]
        elif service.get("launchType"):
            placement["launchType"] = service["launchType"]
        return placement

    def _task_sets(self, external_id: str | None) -> list[dict[str, Any]]:
        """The service's task sets (those made by deployment `external_id` only, when given)."""
        answer = self._call("read the task sets", "describe_task_sets")
        sets: list[dict[str, Any]] = answer.get("taskSets", [])
        return [s for s in sets if external_id is None or s.get("externalId") == external_id]

    def _call(self, what: str, operation: str, **params: Any) -> Any:
        service = self._service
        if operation == "describe_services":
            params = {"cluster": service["clusterName"], **params}
        else:
            params = {"cluster": service["clusterName"], "service": service["serviceName"], **params}
        try:
            return getattr(self.ecs, operation)(**params)
        except AWS_ERRORS as exc:
            where = f"service {service['serviceName']} of cluster {service['clusterName']}"
            raise step_failed(f"could not {what} of {where}", exc, StepErrorCode.ECS_UPDATE_ERROR, *_MISSING) from None
