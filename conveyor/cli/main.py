"""`conveyor`: the command group, shared options and how errors are shown."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from conveyor.cli.client import Client, connect
from conveyor.config import Settings, load_settings
from conveyor.errors import ConveyorError, SpecError


@dataclass
class Context:
    server: str | None
    direct: bool
    _settings: Settings | None = None
    _client: Client | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect(self.settings, self.server, self.direct)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


pass_context = click.make_pass_decorator(Context)


class ConveyorGroup(click.Group):
    """Shows Conveyor's errors as one readable message (every problem of an invalid file) and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SpecError as exc:
            click.echo(exc.describe(), err=True)
            sys.exit(1)
        except ConveyorError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)


@click.group(cls=ConveyorGroup)
@click.option(
    "--server",
    envvar="CONVEYOR_URL",
    help="URL of a Conveyor server (default: http://127.0.0.1:8000 if one answers there, else direct access).",
)
@click.option("--direct", is_flag=True, help="Work on the database and queues directly, without a server.")
@click.version_option(package_name="conveyor")
@click.pass_context
def main(ctx: click.Context, server: str | None, direct: bool) -> None:
    """Conveyor: pipelines, builds and deployments from the AWS files you already have."""
    ctx.obj = Context(server, direct)
    ctx.call_on_close(ctx.obj.close)


# The modules whose `COMMANDS` make up the command line, imported once `main` exists (they import this module).
_COMMAND_MODULES = (
    "pipelines",
    "executions",
    "webhooks",
    "control",
    "builds",
    "batches",
    "projects",
    "local",
    "appspec",
    "registry",
    "deploys",
    "schedules",
    "notifications",
    "chatops",
    "processes",
    "agent",
    "demo",
)


def _register() -> None:
    for name in _COMMAND_MODULES:
        for command in importlib.import_module(f"conveyor.cli.{name}").COMMANDS:
            main.add_command(command)


_register()
