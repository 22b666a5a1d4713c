"""`conveyor executions …`: what ran, and how each stage and action went."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import (
    next_token_option,
    output_option,
    print_json,
    print_page,
    print_table,
    status_text,
    styled,
)
from conveyor.cli.watching import watch


@click.group("executions")
def executions() -> None:
    """Pipeline executions."""


@executions.command("list")
@click.option("--pipeline", help="Only this pipeline's executions.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@next_token_option
@output_option
@pass_context
def list_(context: Context, pipeline: str | None, limit: int, next_token: str | None, output: str) -> None:
    """List recent executions, newest first."""
    page = context.client.list_executions(pipeline, limit, next_token)
    headers = ["EXECUTION", "PIPELINE", "STATUS", "TRIGGER", "REVISION", "STARTED"]
    print_page(page, output, headers, _row)


def _row(e: dict[str, Any]) -> list[Any]:
    trigger = e["trigger"]["triggerType"]
    return [
        e["pipelineExecutionId"],
        e["pipelineName"],
        status_text(e["status"]),
        trigger,
        _revision(e),
        e["startTime"],
    ]


@executions.command("show")
@click.argument("execution_id")
@output_option
@pass_context
def show(context: Context, execution_id: str, output: str) -> None:
    """Show one execution: its stages, actions, statuses and times."""
    execution = context.client.get_execution(execution_id)
    if output == "json":
        print_json(execution)
        return
    console = Console()
    console.print(
        styled(
            (execution["pipelineName"], "bold"),
            f" execution {execution['pipelineExecutionId']}: ",
            status_text(execution["status"]),
        )
    )
    if execution.get("statusSummary"):
        console.print(f"  {execution['statusSummary']}", markup=False)
    console.print(
        f"  trigger: {execution['trigger']['triggerType']} — {execution['trigger']['triggerDetail']}", markup=False
    )
    rows = []
    for stage in execution["stages"]:
        for action in stage["actions"]:
            rows.append(
                [
                    stage["stageName"],
                    action["actionName"],
                    f"{action['category']}/{action['provider']}",
                    status_text(action["status"]),
                    action.get("externalExecutionId") or "",
                    (action.get("summary") or "")[:80],
                ]
            )
    print_table(["STAGE", "ACTION", "PROVIDER", "STATUS", "EXTERNAL ID", "SUMMARY"], rows, whole=(4,))


@executions.command("watch")
@click.argument("execution_id")
@output_option
@pass_context
def watch_(context: Context, execution_id: str, output: str) -> None:
    """Print an execution's state changes as they happen until it ends; exit 0 if it succeeded, 1 otherwise (with
    --output json, the execution as it ended)."""
    watch(context.client, execution_id, output)


@executions.command("events")
@click.argument("execution_id")
@output_option
@pass_context
def events(context: Context, execution_id: str, output: str) -> None:
    """Every state change of an execution, oldest first."""
    found = context.client.execution_events(execution_id)
    if output == "json":
        print_json(found)
        return
    rows = []
    for event in found:
        detail = event["detail"]
        where = ".".join(detail[k] for k in ("stage", "action") if k in detail) or "(execution)"
        rows.append([event["time"], where, status_text(detail["state"]), (detail.get("summary") or "")[:80]])
    print_table(["TIME", "WHERE", "STATE", "SUMMARY"], rows)


def _revision(execution: dict[str, Any]) -> str:
    revisions = execution.get("sourceRevisions") or []
    return str((revisions[0].get("revisionId") or "")[:12]) if revisions else ""


COMMANDS = [executions]
