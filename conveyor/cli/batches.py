"""`conveyor batches …`: batch builds, their build groups and stopping them."""

from __future__ import annotations

import click
from rich.console import Console

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table, status_text, styled


@click.group("batches")
def batches() -> None:
    """Batch builds (a CodeBuild action with BatchEnabled)."""


@batches.command("list")
@click.option("--project", help="Only this project's batches.")
@click.option("--limit", default=20, show_default=True)
@output_option
@pass_context
def list_(context: Context, project: str | None, limit: int, output: str) -> None:
    """List recent batch builds, newest first."""
    found = context.client.list_batches(project, limit)
    if output == "json":
        print_json(found)
        return
    print_table(
        ["BATCH", "KIND", "STATUS", "PHASE", "STARTED"],
        [
            [b["id"], b["batchKind"], status_text(b["buildBatchStatus"]), b["currentPhase"], b["startTime"]]
            for b in found
        ],
    )


@batches.command("show")
@click.argument("batch_id")
@output_option
@pass_context
def show(context: Context, batch_id: str, output: str) -> None:
    """Show one batch: its phases and each of its builds."""
    batch = context.client.get_batch(batch_id)
    if output == "json":
        print_json(batch)
        return
    console = Console()
    kind = batch["batchKind"] or "not read yet"
    console.print(styled((batch["id"], "bold"), f" ({kind}): ", status_text(batch["buildBatchStatus"])))
    if batch.get("statusReason"):
        console.print(batch["statusReason"], markup=False)
    print_table(
        ["PHASE", "STATUS", "SECONDS"],
        [[p["phaseType"], status_text(p["phaseStatus"]), p["durationInSeconds"]] for p in batch["phases"]],
    )
    rows = []
    for group in batch["buildGroups"]:
        build = group["currentBuildSummary"] or {}
        rows.append(
            [
                group["identifier"],
                ", ".join(group["dependsOn"]),
                status_text(build.get("buildStatus")) if build else "not started",
                build.get("arn", ""),
            ]
        )
    print_table(["IDENTIFIER", "DEPENDS ON", "STATUS", "BUILD"], rows)
    if batch.get("artifacts"):
        click.echo(f"combined artifact: {batch['artifacts']['location']}")


@batches.command("stop")
@click.argument("batch_id")
@pass_context
def stop(context: Context, batch_id: str) -> None:
    """Stop a batch: its running builds stop and no more start."""
    batch = context.client.stop_batch(batch_id)
    click.echo(f"{batch['id']}: {batch['buildBatchStatus']} ({batch['currentPhase']})")


COMMANDS = [batches]
