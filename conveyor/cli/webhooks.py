"""`conveyor webhooks …`: the deliveries GitHub sent, what each started, and why a push started nothing."""

from __future__ import annotations

from typing import Any

import click

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import next_token_option, output_option, print_json, print_page
from conveyor.cli.webhook_client import webhook_client
from conveyor.triggers.outcomes import OUTCOMES


@click.group("webhooks")
def webhooks() -> None:
    """Webhook deliveries received from GitHub."""


@webhooks.command("deliveries")
@click.option("--repository", help="Only this repository's (owner/name).")
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only the deliveries with this outcome.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@next_token_option
@output_option
@pass_context
def deliveries(
    context: Context, repository: str | None, outcome: str | None, limit: int, next_token: str | None, output: str
) -> None:
    """The newest deliveries: event, repository and ref, what they started, or why they started nothing."""
    print_page(
        webhook_client(context.client).deliveries(repository, outcome, limit, next_token),
        output,
        ["DELIVERY", "EVENT", "REPOSITORY @ REF", "OUTCOME", "STARTED / WHY", "RECEIVED"],
        lambda d: [d["deliveryId"], d["event"], _where(d), d["outcome"], _started_or_why(d), d["receivedAt"]],
    )


@webhooks.command("show")
@click.argument("delivery_id")
@output_option
@pass_context
def show(context: Context, delivery_id: str, output: str) -> None:
    """One delivery, by its X-GitHub-Delivery id."""
    delivery = webhook_client(context.client).delivery(delivery_id)
    if output == "json":
        print_json(delivery)
        return
    click.echo(f"delivery {delivery['deliveryId']} ({delivery['event']}), received {delivery['receivedAt']}")
    if delivery["repository"]:
        commit = f" at {delivery['headCommit'][:12]}" if delivery["headCommit"] else ""
        click.echo(f"  {_where(delivery)}{commit}")
    click.echo(f"  {delivery['outcome']}" + (f": {delivery['detail']}" if delivery["detail"] else ""))
    for execution_id in delivery["executionIds"]:
        click.echo(f"  started execution {execution_id}   (conveyor executions show {execution_id})")


def _where(delivery: dict[str, Any]) -> str:
    if not delivery["repository"]:
        return ""
    return f"{delivery['repository']} @ {delivery['ref']}" if delivery["ref"] else delivery["repository"]


def _started_or_why(delivery: dict[str, Any]) -> str:
    ids = delivery["executionIds"]
    return ", ".join(ids) if ids else delivery["detail"]


COMMANDS = [webhooks]
