"""Lambda deployments for tests: a function with two published versions behind an alias in moto, and hook
functions played by the test.

Moto runs no function code here, so `Journal` watches Conveyor's own `lambda` client: each hook invocation is read
off the client as it is sent and answered the way the test says — a real boto3 `codedeploy` client reporting over
HTTP to a real Conveyor server, from a thread of its own as an asynchronous invocation would — and each change of
the alias is noted with the time it was made.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from conveyor import aws
from conveyor.deploy import deployments, registry
from conveyor.deploy.deployments import DeploymentRequest
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION

FUNCTION = "checkout"
ALIAS = "live"
BEFORE, AFTER = "check-before", "check-after"
TARGET_ID = f"{FUNCTION}:{ALIAS}"
EVENTS = ["Start", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "End"]
ON_FAILURE = {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("index.py", source)
    return buffer.getvalue()


def make_functions() -> None:
    """`checkout` with versions 1 and 2 published and alias `live` on 1; the hook functions beside it."""
    client = boto3.client("lambda", region_name=AWS_REGION)
    role = boto3.client("iam", region_name=AWS_REGION).create_role(
        RoleName="checkout-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    for name in (FUNCTION, BEFORE, AFTER):
        client.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role["Role"]["Arn"],
            Handler="index.handler",
            Code={"ZipFile": _zip("def handler(event, context):\n    return 1\n")},
        )
    client.publish_version(FunctionName=FUNCTION)
    client.update_function_code(FunctionName=FUNCTION, ZipFile=_zip("def handler(event, context):\n    return 2\n"))
    client.publish_version(FunctionName=FUNCTION)
    client.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")


def appspec(*, hooks: dict[str, str] | None = None, current: str = "1", target: str = "2") -> str:
    """A Lambda AppSpec (YAML) moving `live` from `current` to `target`, with both hooks unless told otherwise."""
    hooks = {"BeforeAllowTraffic": BEFORE, "AfterAllowTraffic": AFTER} if hooks is None else hooks
    lines = [
        "version: 0.0",
        "Resources:",
        "  - Checkout:",
        "      Type: AWS::Lambda::Function",
        "      Properties:",
        f"        Name: {FUNCTION}",
        f"        Alias: {ALIAS}",
        f'        CurrentVersion: "{current}"',
        f'        TargetVersion: "{target}"',
    ]
    if hooks:
        lines += ["Hooks:", *(f"  - {event}: {function}" for event, function in hooks.items())]
    return "\n".join(lines) + "\n"


def content_revision(text: str) -> dict[str, Any]:
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": text}}


@dataclass
class Journal:
    """What Conveyor did to AWS, in order: `("invoke", function, event)` and `("alias", version, weights, at)`."""

    codedeploy: Any  # a boto3 codedeploy client pointed at the Conveyor server
    answers: dict[str, str | None] = field(default_factory=dict)  # function -> Succeeded | Failed | None (silent)
    entries: list[tuple[Any, ...]] = field(default_factory=list)
    on_shift: Callable[[int], None] | None = None  # called with the number of the alias update just made
    reports: list[threading.Thread] = field(default_factory=list)
    invocations: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.lambda.Invoke", self._invoked)
        client.meta.events.register("after-call.lambda.UpdateAlias", self._alias_updated)

    def _invoked(self, params: dict[str, Any], **_: Any) -> None:
        event = json.loads(params["Payload"])
        assert params["InvocationType"] == "Event"
        self.invocations.append({"function": params["FunctionName"], **event})
        self.entries.append(("invoke", params["FunctionName"]))
        answer = self.answers.get(params["FunctionName"], "Succeeded")
        if answer is not None:
            report = threading.Thread(target=self._report, args=(event, answer))
            report.start()
            self.reports.append(report)

    def _report(self, event: dict[str, str], status: str) -> None:
        self.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status,
        )

    def _alias_updated(self, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        weights = (parsed.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        self.entries.append(("alias", parsed["FunctionVersion"], weights, time.monotonic()))
        if self.on_shift is not None:
            self.on_shift(len(self.aliases))

    @property
    def aliases(self) -> list[tuple[str, dict[str, float]]]:
        """Each alias update: the version it points at and the extra weights."""
        return [(e[1], e[2]) for e in self.entries if e[0] == "alias"]

    @property
    def alias_times(self) -> list[float]:
        return [e[3] for e in self.entries if e[0] == "alias"]

    @property
    def order(self) -> list[str]:
        """What happened, in order: `invoke <function>` and `alias <version> <weights>`."""
        return [
            f"invoke {e[1]}" if e[0] == "invoke" else f"alias {e[1]} {json.dumps(e[2], sort_keys=True)}"
            for e in self.entries
        ]

    def join(self) -> None:
        for report in self.reports:
            report.join(timeout=10)


def make_group(rt: Runtime, **definition: Any) -> None:
    """Application `shop` (Lambda) with group `checkout`, and two custom configurations timed for tests."""
    registry.create_application(rt, "shop", compute_platform="Lambda")
    routings = {
        "Canary10Percent2Seconds": {
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": 2},
        },
        "Linear34PercentEverySecond": {
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 34, "linearInterval": 1},
        },
    }
    for name, routing in routings.items():
        config = {"deploymentConfigName": name, "computePlatform": "Lambda", "trafficRoutingConfig": routing}
        registry.create_deployment_config(rt, json.dumps(config))
    group = {"deploymentGroupName": "checkout", "deploymentConfigName": "Canary10Percent2Seconds", **definition}
    registry.create_deployment_group(rt, "shop", json.dumps(group))


def deploy(rt: Runtime, text: str | None = None, **options: Any) -> dict[str, Any]:
    """CreateDeployment of an AppSpec (by default `appspec()`) to shop/checkout."""
    request = DeploymentRequest("shop", "checkout", content_revision(text or appspec()), **options)
    return deployments.create_deployment(rt, request)


def events(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    """The lifecycle events of the deployment's one target, which must be `checkout:live`."""
    [target] = deployment["targets"]
    assert target["targetId"] == TARGET_ID
    return [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]]


def alias(rt: Runtime) -> tuple[str, dict[str, float]]:
    """Where the alias points now, and its extra weights."""
    answer = aws.client("lambda", rt.settings).get_alias(FunctionName=FUNCTION, Name=ALIAS)
    return answer["FunctionVersion"], (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
