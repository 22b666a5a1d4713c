"""`conveyor appspec validate`: check AppSpec files for hosts, Lambda and ECS on this machine, no server needed."""

from __future__ import annotations

from pathlib import Path

import click

from conveyor.deploy.appspec import AppSpec, ComputePlatform, parse_appspec
from conveyor.errors import Problem, SpecError


@click.group("appspec")
def appspec_group() -> None:
    """AppSpec files (CodeDeploy)."""


@appspec_group.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--compute-platform",
    "platform",
    type=click.Choice([p.value for p in ComputePlatform]),
    help="Read every file as an AppSpec for this platform (default: tell from each file's content).",
)
def validate(paths: tuple[Path, ...], platform: str | None) -> None:
    """Check AppSpecs (YAML or JSON); list every problem of each with its path and line, exit 1 if any."""
    failed = False
    for path in paths:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            spec = parse_appspec(text, str(path), ComputePlatform(platform) if platform else None)
        except SpecError as exc:
            failed = True
            click.echo(exc.describe(), err=True)
        else:
            click.echo(f"{path}: valid ({_summary(spec)})")
            for note in spec.notes:
                click.echo(f"  note: {_where(path, note)}{note.message}", err=True)
    if failed:
        raise SystemExit(1)


def _summary(spec: AppSpec) -> str:
    count = spec.hook_count
    hooks = f"{count} hook{'s' if count != 1 else ''}" + (f": {', '.join(spec.hooks)}" if count else "")
    return f"{spec.platform.label} AppSpec; {hooks}"


def _where(path: Path, note: Problem) -> str:
    line = f"{path}:{note.line}: " if note.line else f"{path}: "
    return f"{line}{note.path}: " if note.path else line


COMMANDS = [appspec_group]
