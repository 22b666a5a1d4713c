"""`conveyor schedules …`: cron schedules that start a pipeline or a build, and `next` to try an expression out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table, status_text, styled
from conveyor.cli.pipelines import pairs
from conveyor.cli.schedule_client import schedule_client
from conveyor.errors import InvalidRequest
from conveyor.schedules.expressions import Timing, UnknownTimeZone, parse_expression, time_zone


@click.group("schedules")
def schedules() -> None:
    """Cron schedules: AWS cron(…), rate(…) or standard cron, in a time zone."""


@schedules.command("create")
@click.argument("name")
@click.argument("expression")
@click.option("--tz", "zone", default="UTC", show_default=True, help="IANA time zone the expression is read in.")
@click.option("--pipeline", help="Start this pipeline.")
@click.option("--variable", "variables", multiple=True, metavar="NAME=VALUE", help="Pipeline variable override.")
@click.option("--revision", metavar="SHA|ACTION=SHA", help="Source revision for the pipeline.")
@click.option("--project", help="Or build this project (its buildspec inline: the build has no source).")
@click.option("--env", "environment", multiple=True, metavar="NAME=VALUE", help="Build environment variable.")
@click.option("--missed", type=click.Choice(["run-once", "skip"]), default="run-once", show_default=True)
@click.option("--disabled", is_flag=True, help="Create it paused.")
@click.option("--description")
@output_option
@pass_context
def create(
    context: Context,
    name: str,
    expression: str,
    zone: str,
    pipeline: str | None,
    variables: tuple[str, ...],
    revision: str | None,
    project: str | None,
    environment: tuple[str, ...],
    missed: str,
    disabled: bool,
    description: str | None,
    output: str,
) -> None:
    """Create schedule NAME firing at EXPRESSION, e.g. 'cron(0 2 ? * MON-FRI *)' or 'rate(1 hour)'."""
    if (pipeline is None) == (project is None):
        raise click.UsageError("give one of --pipeline NAME or --project NAME")
    if project is not None and (variables or revision):
        raise click.UsageError("--variable and --revision go with --pipeline; a build takes --env")
    if pipeline is not None and environment:
        raise click.UsageError("--env goes with --project; a pipeline takes --variable")
    target: dict[str, Any] = (
        {"pipelineName": pipeline, "variables": pairs(variables), **({"revision": revision} if revision else {})}
        if pipeline is not None
        else {"projectName": project, "environmentVariables": pairs(environment)}
    )
    body: dict[str, Any] = {
        "name": name,
        "scheduleExpression": expression,
        "scheduleExpressionTimezone": zone,
        "missed": missed,
        "state": "DISABLED" if disabled else "ENABLED",
        "target": target,
        **({"description": description} if description else {}),
    }
    created = schedule_client(context.client).create(body)
    if output == "json":
        print_json(created)
        return
    click.echo(f"created schedule {name}: {_when(created)}")


@schedules.command("list")
@output_option
@pass_context
def list_(context: Context, output: str) -> None:
    """List the schedules and when each fires next."""
    found = schedule_client(context.client).list_all()
    if output == "json":
        print_json(found)
        return
    rows = [
        [
            s["name"],
            s["state"],
            s["scheduleExpression"],
            s["scheduleExpressionTimezone"],
            _target(s["target"]),
            _local(s["nextFireTimes"][0], s["scheduleExpressionTimezone"]) if s["nextFireTimes"] else "-",
        ]
        for s in found
    ]
    print_table(["NAME", "STATE", "EXPRESSION", "ZONE", "TARGET", "NEXT"], rows)


@schedules.command("show")
@click.argument("name")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 100), help="Next fire times to show.")
@output_option
@pass_context
def show(context: Context, name: str, count: int, output: str) -> None:
    """Show a schedule and its next fire times."""
    schedule = schedule_client(context.client).get(name, count)
    if output == "json":
        print_json(schedule)
        return
    console = Console(highlight=False)
    console.print(styled((schedule["name"], "bold"), f" {schedule['state']}: {_target(schedule['target'])}"))
    if schedule["description"]:
        console.print(f"  {schedule['description']}", markup=False)
    console.print(
        f"  {schedule['scheduleExpression']} in {schedule['scheduleExpressionTimezone']}, "
        f"missed slots: {schedule['missed']}",
        markup=False,
    )
    for moment in schedule["nextFireTimes"]:
        click.echo(f"  next: {_local(moment, schedule['scheduleExpressionTimezone'])}")


@schedules.command("pause")
@click.argument("name")
@pass_context
def pause(context: Context, name: str) -> None:
    """Stop firing until resumed (run still works)."""
    click.echo(f"paused schedule {name}: {_when(schedule_client(context.client).pause(name))}")


@schedules.command("resume")
@click.argument("name")
@pass_context
def resume(context: Context, name: str) -> None:
    """Fire again from the first slot after now; slots that passed while paused do not fire."""
    click.echo(f"resumed schedule {name}: {_when(schedule_client(context.client).resume(name))}")


@schedules.command("run")
@click.argument("name")
@output_option
@pass_context
def run(context: Context, name: str, output: str) -> None:
    """Fire now: start the schedule's pipeline or build at once."""
    firing = schedule_client(context.client).run(name)
    if output == "json":
        print_json(firing)
        return
    click.echo(f"schedule {name} started {_started(firing['target'])}")


@schedules.command("history")
@click.argument("name")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@output_option
@pass_context
def history(context: Context, name: str, limit: int, output: str) -> None:
    """What each firing started, newest first, with its status now."""
    firings = schedule_client(context.client).history(name, limit)
    if output == "json":
        print_json(firings)
        return
    rows = [
        [
            f["firedAt"],
            f["trigger"],
            f["slot"] or "-",
            status_text(f["status"]),
            f["target"].get("pipelineExecutionId") or f["target"].get("buildId") or "-",
            status_text(f["targetStatus"]),
            f["message"] or "",
        ]
        for f in firings
    ]
    print_table(["FIRED", "TRIGGER", "SLOT", "FIRING", "STARTED", "STATUS", "NOTE"], rows)


@schedules.command("delete")
@click.argument("name")
@pass_context
def delete(context: Context, name: str) -> None:
    """Delete a schedule and its history; what it started goes on."""
    schedule_client(context.client).delete(name)
    click.echo(f"deleted schedule {name}")


@schedules.command("next")
@click.argument("expression")
@click.option(
    "--from",
    "start",
    metavar="ISO-TIME",
    help="Count from this moment (default: now); read in --tz if it has no offset.",
)
@click.option("--tz", "zone", default="UTC", show_default=True, help="IANA time zone the expression is read in.")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 1000))
def next_(expression: str, start: str | None, zone: str, count: int) -> None:
    """Print EXPRESSION's next fire times, one ISO 8601 time a line, in the time zone; no server needed."""
    where = time_zone(zone)
    moment = _moment(start, where) if start else datetime.now(UTC)
    times = Timing(parse_expression(expression), where, moment).fire_times(moment, count)
    if not times:
        raise InvalidRequest(f"{expression!r} never fires after {moment.isoformat()}")
    for fire_time in times:
        click.echo(fire_time.astimezone(where).isoformat())


def _moment(text: str, zone: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"--from {text!r} is not an ISO 8601 time (2026-03-01T09:00, with +01:00 or Z)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _local(moment: str, zone: str) -> str:
    """An API time (UTC) on the schedule's own clock."""
    try:
        return datetime.fromisoformat(moment).astimezone(time_zone(zone)).isoformat()
    except UnknownTimeZone:  # a zone this machine's tz database does not know: UTC it is
        return moment


def _when(schedule: dict[str, Any]) -> str:
    upcoming = schedule["nextFireTimes"]
    what = f"{schedule['scheduleExpression']} in {schedule['scheduleExpressionTimezone']}"
    if schedule["state"] != "ENABLED":
        return f"{what}, paused"
    if not upcoming:
        return f"{what}, never fires again"
    return f"{what}, next {_local(upcoming[0], schedule['scheduleExpressionTimezone'])}"


def _target(target: dict[str, Any]) -> str:
    return f"pipeline {target['pipelineName']}" if "pipelineName" in target else f"build of {target['projectName']}"


def _started(target: dict[str, Any]) -> str:
    if "pipelineName" in target:
        return f"pipeline {target['pipelineName']}: execution {target['pipelineExecutionId']}"
    return f"a build of {target['projectName']}: {target['buildId']}"


COMMANDS = [schedules]
