"""`conveyor build local` and `conveyor buildspec validate`: the build engine on this machine, no server needed."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from conveyor.build.local import LocalRun, PhaseRecord, run_local
from conveyor.build.secrets import AwsSecrets
from conveyor.build.spec import parse_buildspec
from conveyor.build.status import BuildStatus
from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import print_table, status_text, styled
from conveyor.cli.pipelines import pairs
from conveyor.errors import SpecError
from conveyor.git_credentials import server_credentials

EXIT_STATUS = {
    BuildStatus.SUCCEEDED: 0,
    BuildStatus.FAILED: 1,
    BuildStatus.TIMED_OUT: 2,
    BuildStatus.STOPPED: 2,
    BuildStatus.FAULT: 3,
}


@click.group("build")
def build() -> None:
    """Run builds on this machine."""


@build.command("local")
@click.option(
    "-b",
    "--buildspec",
    "buildspec",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Buildspec to run (default: buildspec.yml in the current directory).",
)
@click.option("--env", "env", multiple=True, metavar="NAME=VALUE", help="Variable that wins over the buildspec's.")
@click.option(
    "--artifacts",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the artifact zip and the build log.",
)
@click.option("--in-place", is_flag=True, help="Build in the current directory instead of a copy of it.")
@click.option(
    "--timeout",
    "timeout_minutes",
    default=60,
    show_default=True,
    type=click.IntRange(1, 2160),
    help="Build timeout in minutes.",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder that keeps the buildspec's cache between local runs (default: no cache).",
)
@click.option(
    "--sandbox/--no-sandbox",
    default=None,
    help="Run the build in a bubblewrap sandbox: host read-only, nothing outlives it (default: build_sandbox).",
)
@click.option(
    "--network/--no-network",
    default=None,
    help="With the sandbox: whether the build may use the network (default: build_network).",
)
@pass_context
def local(
    context: Context,
    buildspec: Path | None,
    env: tuple[str, ...],
    artifacts: Path | None,
    in_place: bool,
    timeout_minutes: int,
    cache_dir: Path | None,
    sandbox: bool | None,
    network: bool | None,
) -> None:
    """Run a buildspec in the current directory with the server's build engine; exit non-zero unless it succeeds.

    Exit status: 0 SUCCEEDED, 1 FAILED, 2 TIMED_OUT or STOPPED, 3 FAULT (Conveyor could not run it).
    """
    console = Console(stderr=True, highlight=False)
    settings = context.settings
    if network is False and sandbox is None:
        sandbox = True  # the network can only be taken away inside the sandbox
    if network is False and sandbox is False:
        raise click.UsageError("--no-network needs the sandbox: drop --no-sandbox")
    run = run_local(
        Path.cwd(),
        buildspec_file=buildspec,
        environment=pairs(env),
        artifacts_dir=artifacts,
        in_place=in_place,
        timeout_minutes=timeout_minutes,
        region=settings.aws_region,
        on_output=_echo,
        on_phase=lambda record: _show_failure(console, record),
        secrets=AwsSecrets(settings),
        sandbox=("bwrap" if sandbox else "none") if sandbox is not None else settings.build_sandbox,
        network=settings.build_network if network is None else network,
        cache_dir=cache_dir.resolve() if cache_dir else None,
        runtimes_dir=settings.runtimes_dir,
        git_credentials=server_credentials(settings),
    )
    _report(console, run)
    raise SystemExit(EXIT_STATUS.get(run.result.status, 1))


def _report(console: Console, run: LocalRun) -> None:
    """The phases, the result, and where the artifact and the log were kept."""
    rows = [
        [
            p.phase.value,
            status_text(p.status.value if p.status else None),
            f"{p.seconds:.2f}",
            (p.contexts[0]["message"] if p.contexts else "")[:100],
        ]
        for p in run.phases
    ]
    print_table(["PHASE", "STATUS", "SECONDS", "CONTEXT"], rows)
    console.print(styled(f"build {run.build_id}: ", status_text(run.result.status.value)))
    if run.result.exported_variables:
        console.print(
            "exported: " + ", ".join(f"{k}={v}" for k, v in run.result.exported_variables.items()), markup=False
        )
    if run.artifact:
        console.print(f"artifact: {run.artifact}", markup=False)
    if run.log:
        console.print(f"log: {run.log}", markup=False)


def _echo(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _show_failure(console: Console, record: PhaseRecord) -> None:
    if record.status is not None and record.status is not BuildStatus.SUCCEEDED:
        sys.stdout.flush()
        console.print(f"[bold red]✗ {record.phase.value} {record.status.value}[/] ({record.seconds:.2f} s)")


@click.group("buildspec")
def buildspec_group() -> None:
    """Buildspec files."""


@buildspec_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check buildspecs; list every problem of each with its path and line, exit 1 if any."""
    failed = False
    for path in paths:
        try:
            spec = parse_buildspec(path.read_text(encoding="utf-8", errors="replace"), str(path))
        except SpecError as exc:
            failed = True
            click.echo(exc.describe(), err=True)
        else:
            phases = ", ".join(p.name for p in spec.phases) or "no phases"
            click.echo(f"{path}: valid (version {spec.version}; {phases})")
            for key in spec.not_yet_run:
                click.echo(f"  note: '{key}' is accepted but not carried out by Conveyor yet", err=True)
    if failed:
        raise SystemExit(1)


COMMANDS = [build, buildspec_group]
