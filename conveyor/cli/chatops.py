"""`conveyor chatops log`: the audit log of commands and button presses from Slack."""

from __future__ import annotations

from typing import Any

import click

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient
from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table


@click.group("chatops")
def chatops() -> None:
    """Commands from chat (Slack)."""


@chatops.command("log")
@click.option("--user", help="Only this Slack user's commands (a user id such as U0123).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@output_option
@pass_context
def log(context: Context, user: str | None, limit: int, output: str) -> None:
    """Every command that arrived, newest first: who, what, allowed or not, and how it ended."""
    found = _commands(context.client, user, limit)
    if output == "json":
        print_json(found)
        return
    rows = [
        [c["createdAt"], f"{c['teamId']}/{c['userId']}", c["role"] or "-", c["text"], c["status"], _first_line(c)]
        for c in found
    ]
    print_table(["AT", "WHO", "ROLE", "COMMAND", "STATUS", "DETAIL"], rows)


def _commands(client: Client, user: str | None, limit: int) -> list[dict[str, Any]]:
    if isinstance(client, HttpClient):
        params: dict[str, Any] = {"limit": limit, **({"user": user} if user else {})}
        return list(client._call("GET", "/chatops/commands", params=params).json()["commands"])
    from conveyor.cli.local_client import LocalClient, chat_commands  # noqa: PLC0415 - see conveyor.cli.client

    if isinstance(client, LocalClient):
        return chat_commands(client, user, limit)
    raise TypeError(f"no chat audit log through {type(client).__name__}")


def _first_line(command: dict[str, Any]) -> str:
    return (command["detail"] or "").splitlines()[0][:80] if command["detail"] else ""


COMMANDS = [chatops]
