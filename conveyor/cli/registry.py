"""`conveyor applications|deployment-groups|deployment-configs|hosts …`: the deploy engine's registry."""

from __future__ import annotations

from pathlib import Path

import click

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("applications")
def applications() -> None:
    """CodeDeploy applications."""


@applications.command("create")
@click.argument("name")
@click.option("--platform", type=click.Choice(["Server", "Lambda", "ECS"]), default="Server", show_default=True)
@pass_context
def create_application(context: Context, name: str, platform: str) -> None:
    """Create application NAME for a compute platform."""
    context.client.create_application(name, platform)
    click.echo(f"created application {name} ({platform})")


@applications.command("list")
@output_option
@pass_context
def list_applications(context: Context, output: str) -> None:
    found = context.client.list_applications()
    if output == "json":
        print_json(found)
        return
    print_table(
        ["NAME", "PLATFORM", "CREATED"], [[a["applicationName"], a["computePlatform"], a["createTime"]] for a in found]
    )


@click.group("deployment-groups")
def deployment_groups() -> None:
    """Deployment groups: where and how an application is deployed."""


@deployment_groups.command("create")
@click.argument("application")
@click.option("-f", "--file", "path", type=_FILE, required=True, help="create-deployment-group's input, YAML or JSON.")
@pass_context
def create_group(context: Context, application: str, path: Path) -> None:
    """Create a deployment group of APPLICATION from FILE."""
    group = context.client.create_deployment_group(application, path.read_text(), path.name)
    hosts = ", ".join(group["hosts"]) or "none registered yet"
    click.echo(
        f"created deployment group {group['deploymentGroupName']} ({group['deploymentConfigName']}); hosts: {hosts}"
    )


@deployment_groups.command("get")
@click.argument("application")
@click.argument("name")
@pass_context
def get_group(context: Context, application: str, name: str) -> None:
    """Print a deployment group with the hosts its tags choose (JSON)."""
    print_json(context.client.get_deployment_group(application, name))


@click.group("deployment-configs")
def deployment_configs() -> None:
    """Deployment configurations: the predefined ones and your own."""


@deployment_configs.command("create")
@click.option("-f", "--file", "path", type=_FILE, required=True, help="create-deployment-config's input.")
@pass_context
def create_config(context: Context, path: Path) -> None:
    """Create a custom deployment configuration from FILE."""
    info = context.client.create_deployment_config(path.read_text(), path.name)
    click.echo(f"created deployment configuration {info['deploymentConfigName']} ({info['computePlatform']})")


@deployment_configs.command("list")
@pass_context
def list_configs(context: Context) -> None:
    for name in context.client.list_deployment_configs():
        click.echo(name)


@deployment_configs.command("get")
@click.argument("name")
@pass_context
def get_config(context: Context, name: str) -> None:
    print_json(context.client.get_deployment_config(name))


@click.group("hosts")
def hosts() -> None:
    """Hosts that agents registered."""


@hosts.command("list")
@output_option
@pass_context
def list_hosts(context: Context, output: str) -> None:
    found = context.client.list_hosts()
    if output == "json":
        print_json(found)
        return
    rows = [
        [h["instanceName"], ", ".join(f"{t['Key']}={t['Value']}" for t in h["tags"]), h["queue"], h["lastSeenTime"]]
        for h in found
    ]
    print_table(["HOST", "TAGS", "QUEUE", "LAST SEEN"], rows)


COMMANDS = [applications, deployment_groups, deployment_configs, hosts]
