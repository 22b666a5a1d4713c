"""`conveyor deploy …`: deploy a bundle to a deployment group's hosts, or a Lambda or ECS AppSpec to its function's
alias or service; watch each target, stop, redeploy."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from conveyor.cli.deploy_client import deploy_client
from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table, status_text, styled
from conveyor.deploy.host_state import bundle_type_of

WATCH_INTERVAL = 1.0


@click.group("deploy")
def deploy() -> None:
    """Deployments to hosts, Lambda functions and ECS services (CodeDeploy)."""


@deploy.command("create")
@click.argument("application")
@click.argument("group")
@click.option("--bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="A zip, tar or tgz.")
@click.option("--s3", "s3_location", help="An S3 bundle instead: s3://BUCKET/KEY (bundle type from the name).")
@click.option(
    "--appspec",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Lambda and ECS: the AppSpec file itself (YAML or JSON), sent as AppSpecContent.",
)
@click.option("--config", "config_name", help="Deployment configuration (default: the group's).")
@click.option("--description")
@click.option(
    "--file-exists-behavior",
    type=click.Choice(["DISALLOW", "OVERWRITE", "RETAIN"]),
    default="DISALLOW",
    show_default=True,
)
@click.option("--ignore-application-stop-failures", is_flag=True)
@click.option(
    "--target-tag",
    "target_tags",
    multiple=True,
    metavar="K=V",
    help="Blue/green: the replacement hosts are those with every such tag (targetInstances).",
)
@output_option
@pass_context
def create(
    context: Context,
    application: str,
    group: str,
    bundle: Path | None,
    s3_location: str | None,
    appspec: Path | None,
    config_name: str | None,
    description: str | None,
    file_exists_behavior: str,
    ignore_application_stop_failures: bool,
    target_tags: tuple[str, ...],
    output: str,
) -> None:
    """Deploy a revision to a deployment group; its AppSpec is checked first."""
    client = deploy_client(context.client)
    if sum(given is not None for given in (bundle, s3_location, appspec)) != 1:
        raise click.UsageError("give one of --bundle FILE, --s3 s3://BUCKET/KEY or --appspec FILE")
    if bundle is not None:
        revision = client.upload_bundle(bundle.read_bytes(), bundle.name)
    elif appspec is not None:
        revision = _appspec_revision(appspec)
    else:
        revision = _s3_revision(s3_location or "")
    body: dict[str, Any] = {
        "revision": revision,
        "deploymentConfigName": config_name,
        "description": description,
        "fileExistsBehavior": file_exists_behavior,
        "ignoreApplicationStopFailures": ignore_application_stop_failures,
        "targetInstances": _target_instances(target_tags),
    }
    created = client.create_deployment(application, group, {k: v for k, v in body.items() if v is not None})
    if output == "json":
        print_json(created)
        return
    click.echo(f"{created['deploymentId']} {created['status']} ({created['deploymentConfigName']})")


@deploy.command("list")
@click.argument("application")
@click.argument("group")
@output_option
@pass_context
def list_(context: Context, application: str, group: str, output: str) -> None:
    """List a deployment group's deployments, newest first."""
    found = deploy_client(context.client).list_deployments(application, group)
    if output == "json":
        print_json(found)
        return
    rows = [
        [d["deploymentId"], status_text(d["status"]), d["creator"], d["deploymentConfigName"], d["createTime"]]
        for d in found
    ]
    print_table(["DEPLOYMENT", "STATUS", "CREATOR", "CONFIGURATION", "CREATED"], rows)


@deploy.command("show")
@click.argument("deployment_id")
@output_option
@pass_context
def show(context: Context, deployment_id: str, output: str) -> None:
    """Show a deployment and each target's lifecycle events."""
    deployment = deploy_client(context.client).get_deployment(deployment_id)
    if output == "json":
        print_json(deployment)
        return
    print_progress(deployment)


@deploy.command("watch")
@click.argument("deployment_id")
@click.option("--interval", default=WATCH_INTERVAL, show_default=True, help="Seconds between looks.")
@pass_context
def watch(context: Context, deployment_id: str, interval: float) -> None:
    """Print each target's progress as it changes, until the deployment ends; exit 1 unless it succeeded."""
    client = deploy_client(context.client)
    seen: set[tuple[str, str, str]] = set()
    while True:
        deployment = client.get_deployment(deployment_id)
        for line in progress_lines(deployment, seen):
            click.echo(line)
        if deployment["status"] in ("Succeeded", "Failed", "Stopped"):
            click.echo(f"{deployment_id} {deployment['status']}{_error(deployment)}{_rollback(deployment)}")
            raise SystemExit(0 if deployment["status"] == "Succeeded" else 1)
        time.sleep(interval)


@deploy.command("stop")
@click.argument("deployment_id")
@click.option("--rollback/--no-rollback", default=None, help="Roll back (or not) whatever the group's setting says.")
@pass_context
def stop(context: Context, deployment_id: str, rollback: bool | None) -> None:
    """Stop a deployment: hosts not started are skipped, hosts in progress stop before their next event; a Lambda
    or ECS deployment stops at once, leaving its traffic where it is unless it rolls back."""
    answer = deploy_client(context.client).stop_deployment(deployment_id, rollback)
    click.echo(f"stopping {deployment_id}: {answer['status']}")


@deploy.command("continue")
@click.argument("deployment_id")
@click.option(
    "--wait-type",
    type=click.Choice(["READY_WAIT", "TERMINATION_WAIT"]),
    default="READY_WAIT",
    show_default=True,
    help="READY_WAIT: reroute traffic now; TERMINATION_WAIT: release the original hosts now.",
)
@pass_context
def continue_(context: Context, deployment_id: str, wait_type: str) -> None:
    """Continue a blue/green deployment that waits (Ready, or before releasing its original hosts)."""
    answer = deploy_client(context.client).continue_deployment(deployment_id, wait_type)
    click.echo(f"{deployment_id} {answer['status']}")


@deploy.command("redeploy")
@click.argument("deployment_id")
@pass_context
def redeploy(context: Context, deployment_id: str) -> None:
    """Deploy an earlier deployment's revision to its group again."""
    created = deploy_client(context.client).redeploy(deployment_id)
    click.echo(f"{created['deploymentId']} {created['status']} (the revision of {deployment_id})")


def progress_lines(deployment: dict[str, Any], seen: set[tuple[str, str, str]]) -> list[str]:
    """One line per target event whose status changed since the last look (`seen` remembers)."""
    lines = []
    for target in deployment.get("targets", []):
        for event in target["lifecycleEvents"]:
            key = (target["targetId"], event["lifecycleEventName"], event["status"])
            if key in seen or event["status"] == "Pending":
                continue
            seen.add(key)
            problem = event.get("diagnostics", {}).get("message") if event["status"] == "Failed" else None
            lines.append(
                f"{target['targetId']}: {event['lifecycleEventName']} {event['status']}"
                + (f" - {problem}" if problem else "")
            )
    return lines


def print_progress(deployment: dict[str, Any]) -> None:
    console = Console()
    console.print(
        styled(
            (f"{deployment['applicationName']}/{deployment['deploymentGroupName']}", "bold"),
            f" {deployment['deploymentId']}: ",
            status_text(deployment["status"]),
            _error(deployment) + _rollback(deployment),
        )
    )
    rows = [
        [
            t["targetId"] + (f" ({t['instanceLabel']})" if t.get("instanceLabel") else ""),
            status_text(t["status"]),
            t["batch"] or "-",
            " ".join(
                f"{e['lifecycleEventName']}:{e['status']}" for e in t["lifecycleEvents"] if e["status"] != "Pending"
            ),
        ]
        for t in deployment.get("targets", [])
    ]
    print_table(["TARGET", "STATUS", "BATCH", "EVENTS"], rows)


def _error(deployment: dict[str, Any]) -> str:
    error = deployment.get("errorInformation")
    return f" [{error['code']}: {error['message']}]" if error else ""


def _rollback(deployment: dict[str, Any]) -> str:
    info = deployment.get("rollbackInfo") or {}
    if info.get("rollbackDeploymentId"):
        return f"; rolled back by {info['rollbackDeploymentId']}"
    if info.get("rollbackTriggeringDeploymentId"):
        return f"; rollback of {info['rollbackTriggeringDeploymentId']}"
    return f"; {info['rollbackMessage']}" if info.get("rollbackMessage") else ""


def _target_instances(tags: tuple[str, ...]) -> dict[str, Any] | None:
    """`--target-tag K=V …` as targetInstances: a tag set, so a replacement host has every tag given."""
    if not tags:
        return None
    lists = []
    for tag in tags:
        key, equals, value = tag.partition("=")
        if not key or not equals:
            raise click.BadParameter(f"{tag!r} is not K=V", param_hint="--target-tag")
        lists.append([{"Key": key, "Value": value, "Type": "KEY_AND_VALUE"}])
    if len(lists) == 1:
        return {"tagFilters": lists[0]}
    return {"ec2TagSet": {"ec2TagSetList": lists}}


def _appspec_revision(path: Path) -> dict[str, Any]:
    content = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(content.encode()).hexdigest()
    return {"revisionType": "AppSpecContent", "appSpecContent": {"content": content, "sha256": digest}}


def _s3_revision(location: str) -> dict[str, Any]:
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if not location.startswith("s3://") or not bucket or not key:
        raise click.BadParameter(f"{location!r} is not s3://BUCKET/KEY", param_hint="--s3")
    lower = key.lower()
    bundle_type = "YAML" if lower.endswith((".yml", ".yaml")) else "JSON" if lower.endswith(".json") else None
    return {
        "revisionType": "S3",
        "s3Location": {"bucket": bucket, "key": key, "bundleType": bundle_type or bundle_type_of(key)},
    }


COMMANDS = [deploy]
