"""`conveyor notifications …`: notification rules, test sends, and what was delivered (commit statuses too)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import yaml

from conveyor.cli.main import Context, pass_context
from conveyor.cli.notify_client import notify_client
from conveyor.cli.output import output_option, print_json, print_table
from conveyor.errors import InvalidRequest
from conveyor.notify.catalog import CONVEYOR_ADDITIONS, EVENT_TYPE_IDS

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_FINAL = {"Delivered", "Skipped", "Failed"}


@click.group("notifications")
def notifications() -> None:
    """Notification rules: which events go to Slack, a webhook or EventBridge."""


@notifications.command("create")
@click.option("-f", "--file", "path", type=_FILE, required=True, help="The rule, YAML or JSON.")
@pass_context
def create_rule(context: Context, path: Path) -> None:
    """Create a notification rule from FILE."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"{path.name} is neither YAML nor JSON: {exc}") from None
    rule = notify_client(context.client).create_rule(document)
    click.echo(
        f"created notification rule {rule['name']} ({rule['target']['type']}, {len(rule['eventTypeIds'])} events)"
    )


@notifications.command("list")
@output_option
@pass_context
def list_rules(context: Context, output: str) -> None:
    found = notify_client(context.client).list_rules()
    if output == "json":
        print_json(found)
        return
    rows = [[r["name"], r["target"]["type"], len(r["eventTypeIds"]), _counts(r["deliveries"])] for r in found]
    print_table(["NAME", "TARGET", "EVENTS", "DELIVERIES"], rows)


@notifications.command("get")
@click.argument("name")
@pass_context
def get_rule(context: Context, name: str) -> None:
    """Print a rule (JSON; its secrets masked)."""
    print_json(notify_client(context.client).get_rule(name))


@notifications.command("delete")
@click.argument("name")
@pass_context
def delete_rule(context: Context, name: str) -> None:
    notify_client(context.client).delete_rule(name)
    click.echo(f"deleted notification rule {name}")


@notifications.command("test")
@click.argument("name")
@click.option("--wait", type=float, default=30.0, show_default=True, help="Seconds to wait for the outcome (0: none).")
@pass_context
def send_test(context: Context, name: str, wait: float) -> None:
    """Send a test notification to the rule's target; a worker sends it. Exits 1 if it failed."""
    client = notify_client(context.client)
    delivery = client.send_test(name)
    deadline = time.monotonic() + wait
    while delivery["status"] not in _FINAL and time.monotonic() < deadline:
        time.sleep(0.5)
        delivery = next(d for d in client.deliveries(name, 200) if d["deliveryId"] == delivery["deliveryId"])
    line = f"delivery {delivery['deliveryId']}: {delivery['status']} after {delivery['attempts']} attempt(s)"
    click.echo(line + (f": {delivery['lastError']}" if delivery["lastError"] else ""))
    if delivery["status"] == "Failed":
        raise SystemExit(1)


@notifications.command("deliveries")
@click.argument("name")
@click.option("--limit", default=20, show_default=True)
@output_option
@pass_context
def deliveries(context: Context, name: str, limit: int, output: str) -> None:
    """The rule's newest deliveries: status, attempts, last error."""
    _print_deliveries(notify_client(context.client).deliveries(name, limit), output)


@notifications.command("commit-statuses")
@click.option("--limit", default=20, show_default=True)
@output_option
@pass_context
def commit_statuses(context: Context, limit: int, output: str) -> None:
    """The newest commit statuses posted to GitHub."""
    _print_deliveries(notify_client(context.client).deliveries(None, limit), output)


@notifications.command("event-types")
def event_types() -> None:
    """The event type ids a rule may name (those marked * are Conveyor's own)."""
    for type_id in EVENT_TYPE_IDS:
        click.echo(f"{type_id}{' *' if type_id in CONVEYOR_ADDITIONS else ''}")


def _print_deliveries(found: list[dict[str, Any]], output: str) -> None:
    if output == "json":
        print_json(found)
        return
    rows = [
        [d["deliveryId"], d["eventType"], d["status"], d["attempts"], d["createdAt"], d["lastError"] or ""]
        for d in found
    ]
    print_table(["ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "LAST ERROR"], rows)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "-"


COMMANDS = [notifications]
