"""Following an execution from the terminal until it ends: `conveyor executions watch ID` and `conveyor pipeline
start NAME --wait`.

Each state change (of the execution, a stage or an action) is printed as it is read from the execution's events,
`after` the last one seen, so none is printed twice or missed however the reads fall. The execution has ended when
its own event says so (SUCCEEDED, FAILED, STOPPED, SUPERSEDED, CANCELED); then a failed action's reason is printed
with where to read more (a build's log). The exit status tells a script how it went: 0 when the execution
succeeded, 1 when it ended any other way; Ctrl-C stops the watching (130), not the execution.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from conveyor.cli.client import Client
from conveyor.cli.output import print_json, status_text, styled

ENDED = frozenset({"SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED", "CANCELED"})
POLL_SECONDS = 0.5
_EXECUTION_EVENT = "CodePipeline Pipeline Execution State Change"


def watch(client: Client, execution_id: str, output: str) -> None:
    """Print the execution's state changes until it ends, then exit 0 if it succeeded and 1 otherwise."""
    console = Console(highlight=False, soft_wrap=True)  # piped or in a terminal, one line per change
    try:
        _follow(client, execution_id, console if output != "json" else None)
    except KeyboardInterrupt:  # Ctrl-C stops the watching, not the execution
        console.print(f"stopped watching; the execution goes on: conveyor executions watch {execution_id}")
        raise SystemExit(130) from None
    execution = client.get_execution(execution_id)
    if output == "json":
        print_json(execution)
    else:
        _print_end(console, execution)
    raise SystemExit(0 if execution["status"] == "Succeeded" else 1)


def _follow(client: Client, execution_id: str, console: Console | None) -> None:
    """Read the execution's events, printing each (unless `console` is None), until its own says it ended."""
    after = 0
    while True:
        found = client.execution_events(execution_id, after)
        for event in found:
            after = event["id"]
            if console is not None:
                console.print(_line(event))
        if any(e["detail-type"] == _EXECUTION_EVENT and e["detail"]["state"] in ENDED for e in found):
            return
        if not found:
            time.sleep(POLL_SECONDS)


def _line(event: dict[str, Any]) -> Any:
    detail = event["detail"]
    where = ".".join(detail[key] for key in ("stage", "action") if key in detail) or "execution"
    time_of_day = event["time"][11:19]
    summary = f"  {detail['summary']}" if detail.get("summary") else ""
    return styled((time_of_day, "dim"), f"  {where}  ", status_text(detail["state"]), (summary[:120], ""))


def _print_end(console: Console, execution: dict[str, Any]) -> None:
    console.print(
        styled(
            (execution["pipelineName"], "bold"),
            f" {execution['pipelineExecutionId']} ",
            status_text(execution["status"]),
        )
    )
    for stage in execution["stages"]:
        for action in stage["actions"]:
            if action["status"] != "Failed":
                continue
            console.print(
                f"  {stage['stageName']}.{action['actionName']}: {action.get('summary') or 'failed'}", markup=False
            )
            if action["provider"] == "CodeBuild" and action.get("externalExecutionId"):
                console.print(f"    its log: conveyor builds logs {action['externalExecutionId']}", markup=False)
