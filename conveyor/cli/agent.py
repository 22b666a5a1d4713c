"""`conveyor agent`: run on each deployment target host."""

from __future__ import annotations

from pathlib import Path

import click

from conveyor.cli.main import Context, pass_context
from jobs.agent import run_agent


@click.command("agent")
@click.option("--name", required=True, help="The host's name (its queue is host-NAME).")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag deployment groups select hosts by.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    help="Where the host's file system starts (appspec destinations land under it; the agent's state too).",
)
@click.option("--burst", is_flag=True, help="Stop once the host's queue is empty.")
@pass_context
def agent(context: Context, name: str, tags: tuple[str, ...], root: Path, burst: bool) -> None:
    """Register this host with its tags and run the lifecycle events of its deployments."""
    parsed: dict[str, str] = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{tag!r} is not KEY=VALUE", param_hint="--tag")
        parsed[key] = value
    root.mkdir(parents=True, exist_ok=True)
    run_agent(context.settings, name, parsed, root.resolve(), burst=burst)


COMMANDS = [agent]
