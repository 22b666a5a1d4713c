"""Operating pipelines from the command line: approve and reject, stop and retry, transitions, rollback.

The commands join the `pipeline` and `executions` groups; this module has no group of its own.
"""

from __future__ import annotations

import getpass

import click

from conveyor.cli.executions import executions
from conveyor.cli.main import Context, pass_context
from conveyor.cli.pipelines import pipeline
from conveyor.errors import InvalidRequest


def _who() -> str:
    try:
        return f"{getpass.getuser()} (cli)"
    except (KeyError, OSError):
        return "cli"


def _answer(context: Context, status: str, name: str, stage: str, action: str, token: str | None, summary: str) -> None:
    token = token or _pending_token(context, name, stage, action)
    context.client.put_approval_result(name, stage, action, token, status, summary, _who())
    click.echo(f"{status.lower()} {stage}.{action} of pipeline {name}")


def _pending_token(context: Context, name: str, stage: str, action: str) -> str:
    """The token of the one approval of STAGE.ACTION waiting now; an error when there is none or several."""
    tokens = []
    for summary in context.client.list_executions(name, 50).items:
        if summary["status"] != "InProgress":
            continue
        execution = context.client.get_execution(summary["pipelineExecutionId"])
        for found in execution["stages"]:
            for candidate in found["actions"] if found["stageName"] == stage else []:
                if candidate["actionName"] == action and candidate.get("token"):
                    tokens.append(str(candidate["token"]))
    if len(tokens) != 1:
        what = "no approval" if not tokens else f"{len(tokens)} approvals"
        raise InvalidRequest(f"{what} of {stage}.{action} waiting in pipeline {name}: give --token")
    return tokens[0]


_APPROVAL_ARGUMENTS = [
    click.argument("name"),
    click.argument("stage"),
    click.argument("action"),
    click.option("--token", help="The approval's token (default: the one approval of that action waiting now)."),
    click.option("--summary", default="", help="Why (at most 512 characters)."),
]


def _approval_command(status: str, verb: str) -> click.Command:
    def command(context: Context, name: str, stage: str, action: str, token: str | None, summary: str) -> None:
        _answer(context, status, name, stage, action, token, summary)

    command.__doc__ = f"{verb} the manual approval ACTION in STAGE of pipeline NAME."
    decorated = pass_context(command)
    for decorator in reversed(_APPROVAL_ARGUMENTS):
        decorated = decorator(decorated)
    return click.command(verb.lower())(decorated)


pipeline.add_command(_approval_command("Approved", "Approve"))
pipeline.add_command(_approval_command("Rejected", "Reject"))


@pipeline.command("disable-transition")
@click.argument("name")
@click.argument("stage")
@click.option("--reason", required=True, help="Shown to whoever finds it disabled.")
@click.option("--type", "transition_type", type=click.Choice(["Inbound", "Outbound"]), default="Inbound")
@pass_context
def disable_transition(context: Context, name: str, stage: str, reason: str, transition_type: str) -> None:
    """Hold executions before STAGE (Inbound) or after it (Outbound)."""
    context.client.set_transition(name, stage, transition_type, False, reason, _who())
    click.echo(f"disabled the {transition_type.lower()} transition of {stage} in pipeline {name}")


@pipeline.command("enable-transition")
@click.argument("name")
@click.argument("stage")
@click.option("--type", "transition_type", type=click.Choice(["Inbound", "Outbound"]), default="Inbound")
@pass_context
def enable_transition(context: Context, name: str, stage: str, transition_type: str) -> None:
    """Let executions through again; the one whose turn it is enters."""
    context.client.set_transition(name, stage, transition_type, True, "", _who())
    click.echo(f"enabled the {transition_type.lower()} transition of {stage} in pipeline {name}")


@pipeline.command("rollback")
@click.argument("name")
@click.argument("stage")
@click.option("--to", "target", required=True, metavar="EXECUTION_ID", help="An execution that succeeded in STAGE.")
@pass_context
def rollback(context: Context, name: str, stage: str, target: str) -> None:
    """Run STAGE again with what execution EXECUTION_ID ran there."""
    execution_id = context.client.rollback_stage(name, stage, target, _who())
    click.echo(f"rolling back {stage} of {name} to {target}: execution {execution_id}")


@executions.command("stop")
@click.argument("execution_id")
@click.option("--abandon", is_flag=True, help="Abandon the actions in progress instead of waiting for them.")
@click.option("--reason", default="", help="At most 200 characters.")
@pass_context
def stop(context: Context, execution_id: str, abandon: bool, reason: str) -> None:
    """Stop an execution: nothing new starts; running actions finish, or are abandoned."""
    name = context.client.get_execution(execution_id)["pipelineName"]
    context.client.stop_execution(name, execution_id, abandon, reason)
    click.echo(f"{'abandoning' if abandon else 'stopping'} execution {execution_id} of {name}")


@executions.command("retry")
@click.argument("execution_id")
@click.argument("stage")
@click.option("--mode", type=click.Choice(["FAILED_ACTIONS", "ALL_ACTIONS"]), default="FAILED_ACTIONS")
@pass_context
def retry(context: Context, execution_id: str, stage: str, mode: str) -> None:
    """Run a failed or stopped STAGE of an execution again."""
    name = context.client.get_execution(execution_id)["pipelineName"]
    context.client.retry_stage(name, execution_id, stage, mode)
    click.echo(f"retrying {stage} of execution {execution_id} ({mode})")


COMMANDS: list[click.Command] = []  # the commands above joined existing groups
