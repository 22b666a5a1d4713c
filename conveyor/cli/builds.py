"""`conveyor builds …`: builds, their phases and their logs."""

from __future__ import annotations

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


@click.group("builds")
def builds() -> None:
    """Builds run from buildspecs."""


@builds.command("list")
@click.option("--project", help="Only this project's builds.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@next_token_option
@output_option
@pass_context
def list_(context: Context, project: str | None, limit: int, next_token: str | None, output: str) -> None:
    """List recent builds, newest first."""
    print_page(
        context.client.list_builds(project, limit, next_token),
        output,
        ["BUILD", "NUMBER", "STATUS", "PHASE", "STARTED"],
        lambda b: [b["id"], b["buildNumber"], status_text(b["buildStatus"]), b["currentPhase"], b["startTime"]],
    )


@builds.command("show")
@click.argument("build_id")
@output_option
@pass_context
def show(context: Context, build_id: str, output: str) -> None:
    """Show one build and its phases."""
    build = context.client.get_build(build_id)
    if output == "json":
        print_json(build)
        return
    Console().print(styled((build["id"], "bold"), f" #{build['buildNumber']}: ", status_text(build["buildStatus"])))
    rows = [
        [
            p["phaseType"],
            status_text(p["phaseStatus"]),
            p["durationInSeconds"],
            (p["contexts"][0]["message"] if p["contexts"] else "")[:90],
        ]
        for p in build["phases"]
    ]
    print_table(["PHASE", "STATUS", "SECONDS", "CONTEXT"], rows)
    if build.get("artifacts"):
        click.echo(f"artifact: {build['artifacts']['location']}")


@builds.command("logs")
@click.argument("build_id")
@click.option("--follow", "-f", is_flag=True, help="Print the log as it is written, until the build ends.")
@pass_context
def logs(context: Context, build_id: str, follow: bool) -> None:
    """Print a build's log."""
    if not follow:
        click.echo(context.client.build_logs(build_id), nl=False)
        return
    for event in context.client.follow_build_logs(build_id):
        if event.kind == "log":
            click.echo(event.text, nl=False)
        elif event.kind == "end":
            click.echo(f"[build ended: {event.text}]", err=True)


@builds.command("reports")
@click.argument("build_id")
@click.option("--failed", is_flag=True, help="Also list the failed and errored test cases.")
@output_option
@pass_context
def reports(context: Context, build_id: str, failed: bool, output: str) -> None:
    """A build's test and coverage reports."""
    found = context.client.build_reports(build_id)
    details = [context.client.report_detail(r["id"], None) for r in found] if output == "json" else []
    if output == "json":
        print_json(details)
        return
    for report in found:
        summary = report["summary"]
        if report["type"] == "TEST":
            counts = ", ".join(f"{k} {v}" for k, v in summary["statusCounts"].items()) or "no test cases"
            click.echo(f"{report['reportGroup']}: {report['status']} — {summary['total']} tests ({counts})")
        else:
            click.echo(
                f"{report['reportGroup']}: {report['status']} — lines {summary['lineCoveragePercentage']}%, "
                f"branches {summary['branchCoveragePercentage']}%"
            )
        for problem in report["problems"]:
            click.echo(f"  problem: {problem}")
        if failed and report["type"] == "TEST":
            for status in ("FAILED", "ERROR"):
                for case in context.client.report_detail(report["id"], status)["testCases"]:
                    click.echo(f"  {status} {case['prefix']}.{case['name']}: {(case['message'] or '')[:200]}")


@builds.command("stop")
@click.argument("build_id")
@pass_context
def stop(context: Context, build_id: str) -> None:
    """Stop a build: at once if it is queued, within a second or so if it runs."""
    build = context.client.stop_build(build_id)
    state = build["buildStatus"] if build["buildComplete"] else "stopping"
    click.echo(f"{build_id}: {state}")


COMMANDS = [builds]
