"""`conveyor projects …`: build projects in CodeBuild's shape."""

from __future__ import annotations

from pathlib import Path

import click

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table


@click.group("projects")
def projects() -> None:
    """Build projects: buildspec, compute type (and so the queue), timeouts, variables."""


@projects.command("put")
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@output_option
@pass_context
def put(context: Context, path: Path, output: str) -> None:
    """Create or replace the project FILE describes (JSON or YAML, as create-project takes it)."""
    answer = context.client.put_project(path.read_text(), path.name)
    if output == "json":
        print_json(answer)
        return
    click.echo(f"saved project {answer['name']} (builds go to queue {answer['queue']})")
    if answer.get("ignoredKeys"):
        click.echo(f"  not acted on: {', '.join(answer['ignoredKeys'])}", err=True)


@projects.command("list")
@output_option
@pass_context
def list_(context: Context, output: str) -> None:
    """List build projects."""
    found = context.client.list_projects()
    if output == "json":
        print_json(found)
        return
    print_table(
        ["NAME", "COMPUTE TYPE", "QUEUE", "TIMEOUT", "LAST BUILD"],
        [
            [p["name"], p["environment"]["computeType"], p["queue"], p["timeoutInMinutes"], p["lastBuildNumber"]]
            for p in found
        ],
    )


@projects.command("get")
@click.argument("name")
@pass_context
def get(context: Context, name: str) -> None:
    """Print a project (JSON)."""
    print_json(context.client.get_project(name))


COMMANDS = [projects]
