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
    """Loads each command when it is asked for (`COMMAND_MODULES`), and shows Conveyor's errors as one readable
    message (every problem of an invalid file) and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            modules = [importlib.import_module(f"conveyor.cli.{name}") for name in COMMAND_MODULES[cmd_name]]
            self.add_command(next(c for c in modules[0].COMMANDS if c.name == cmd_name))  # the others extend it
        return super().get_command(ctx, cmd_name)

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


# Each command, and the modules that make it: the first defines it (in its `COMMANDS`), the others add to it. A
# command's modules are imported only when it runs (`--help` imports them all for their summaries), so that
# `conveyor executions list` against a server does not load the database layer, the build engine and boto3.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "pipeline": ("pipelines", "control"),
    "executions": ("executions", "control"),
    "webhooks": ("webhooks",),
    "queues": ("queues",),
    "builds": ("builds",),
    "batches": ("batches",),
    "projects": ("projects",),
    "build": ("local",),
    "buildspec": ("local",),
    "appspec": ("appspec",),
    "applications": ("registry",),
    "deployment-groups": ("registry",),
    "deployment-configs": ("registry",),
    "hosts": ("registry",),
    "deploy": ("deploys",),
    "schedules": ("schedules",),
    "notifications": ("notifications",),
    "chatops": ("chatops",),
    "worker": ("processes",),
    "scheduler": ("processes",),
    "db": ("processes",),
    "up": ("processes",),
    "down": ("processes",),
    "agent": ("agent",),
    "demo": ("demo",),
}
