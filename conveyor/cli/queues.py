"""`conveyor queues`: the work on each queue and the workers that take it."""

from __future__ import annotations

import click

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table


@click.command("queues")
@output_option
@pass_context
def queues(context: Context, output: str) -> None:
    """The work on each queue (dispatches pending and running, jobs waiting in Redis) and the workers listening;
    a queue whose work no worker takes is named on standard error."""
    found = context.client.list_queues()
    if output == "json":
        print_json(found)
        return
    rows = [
        [
            q["name"],
            q["pending"],
            q["running"],
            q["waitingJobs"],
            f"{q['workers']} ({q['busyWorkers']} busy)",
            q["oldestPendingSince"] or "-",
        ]
        for q in found
    ]
    print_table(["QUEUE", "PENDING", "RUNNING", "IN REDIS", "WORKERS", "OLDEST PENDING"], rows)
    for queue in found:
        if queue.get("warning"):
            click.echo(f"warning: {queue['warning']}", err=True)


COMMANDS = [queues]
