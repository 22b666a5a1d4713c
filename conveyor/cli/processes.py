"""Processes: `worker`, `scheduler`, `db upgrade`, and `up` / `down` to run the whole Procfile on this machine."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import click

import conveyor
from conveyor.cli.main import Context, pass_context
from conveyor.config import make_folder
from conveyor.db import Database
from conveyor.db.migrate import current_revision
from conveyor.db.migrate import upgrade as run_upgrade
from conveyor.devstack import Stack, embedded_redis, read_procfile, stack_environment, wait_for_socket, wait_healthy
from conveyor.errors import ConfigurationError
from conveyor.ports import listened_on
from conveyor.stack_record import read_record, stop_groups, write_record
from jobs.scheduler import run_scheduler
from jobs.worker import supervise


@click.command("worker")
@click.option("--builders", default=1, show_default=True, help="Build workers beside the pipeline worker.")
@click.option("--queues", help="Comma-separated queues for a single worker instead (e.g. build-large).")
@click.option("--burst", is_flag=True, help="Stop once the queues are empty.")
@click.option(
    "--fork-builds",
    is_flag=True,
    help="Run each build's Python side in a forked work horse that ends with it, not in the build worker itself.",
)
@click.option(
    "--one-process",
    is_flag=True,
    help="Run one worker process for every queue (pipeline first, then fetches, deployments and builds), one job at "
    "a time: for a small machine, or one per core.",
)
@pass_context
def worker(
    context: Context, builders: int, queues: str | None, burst: bool, fork_builds: bool, one_process: bool
) -> None:
    """Run RQ workers: pipeline control jobs, builds and source fetches."""
    if one_process:
        _only_alone(click.get_current_context(), "one_process", ("builders", "queues", "fork_builds"))
    queue_names = queues.split(",") if queues else None
    raise SystemExit(
        supervise(context.settings, builders, queue_names, burst, fork_builds=fork_builds, one_process=one_process)
    )


def _only_alone(click_context: click.Context, option: str, others: tuple[str, ...]) -> None:
    """Refuse options that mean nothing beside `option` rather than quietly ignoring them."""
    given = [name for name in others if click_context.get_parameter_source(name) != click.core.ParameterSource.DEFAULT]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise click.UsageError(f"--{option.replace('_', '-')} runs every queue in one process; it cannot take {flags}")


@click.command("scheduler")
@click.option(
    "--once",
    is_flag=True,
    help="Run one pass (due schedules, the reconciler, a look at the polled sources queued, notification wake-ups) "
    "and exit.",
)
@pass_context
def scheduler(context: Context, once: bool) -> None:
    """Run the scheduler: fire due cron schedules, reconcile (re-send lost work, time out what waited too long), queue
    looks at the sources that poll for changes, and wake the notification readers."""
    run_scheduler(context.settings, once=once)


@click.group("db")
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_context
def upgrade(context: Context) -> None:
    """Bring the schema to the newest revision."""
    database = Database(context.settings.database_url)
    run_upgrade(database)
    click.echo(f"{database.describe()}: schema at revision {current_revision(database)}")


@click.command("up")
@click.option("--port", default=8000, show_default=True, envvar="PORT", help="Port of the web process.")
@click.option("--detach", is_flag=True, help="Start in the background and return once healthy.")
@click.option("--procfile", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@pass_context
def up(context: Context, port: int, detach: bool, procfile: Path | None) -> None:
    """Start web, worker and scheduler from the Procfile (and a local redis-server when none is configured)."""
    _refuse_a_second_stack(_pid_file(context))
    _refuse_a_taken_port(os.environ.get("CONVEYOR_BIND", "127.0.0.1"), port)  # where the Procfile's web listens
    settings = context.settings
    make_folder(settings.data_dir, "data directory")
    entries = read_procfile(procfile or _default_procfile())
    if settings.uses_embedded_redis:
        entries.insert(0, embedded_redis(settings))
    env = stack_environment(settings, port)
    stack = Stack(entries, env, settings.path("logs") if detach else None)
    if settings.uses_embedded_redis:
        settings.embedded_redis_socket.unlink(missing_ok=True)
        stack.start(["redis"])
        wait_for_socket(settings.embedded_redis_socket)
    stack.start([e.name for e in entries if e.name != "redis"])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, stack=stack)
    except Exception:
        stack.stop()
        raise
    if detach:
        write_record(_pid_file(context), stack.group_ids())
        click.echo(f"Conveyor is up at {url} (data in {settings.data_dir}, logs in {settings.path('logs')})")
        click.echo("Stop it with: conveyor down")
        return
    click.echo(f"Conveyor is up at {url}; Ctrl-C stops it.")
    _wait_for_interrupt()
    stack.stop()


def _refuse_a_second_stack(record: Path) -> None:
    running = read_record(record) if record.exists() else []
    if running:
        names = ", ".join(group.name for group in running)
        raise ConfigurationError(
            f"Conveyor is already running from {record.parent} ({names}): `conveyor down` stops it"
        )


def _refuse_a_taken_port(host: str, port: int) -> None:
    """Before anything starts: another server answering on the port could pass for this one's web process."""
    try:
        taken = listened_on(host, port)
    except OSError as exc:  # not an address of this machine, a port below 1024 without the right, …
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    if taken:
        raise ConfigurationError(
            f"cannot start on {host}:{port}: another server is listening there "
            "(choose another port: --port N or PORT=N)"
        )


@click.command("down")
@pass_context
def down(context: Context) -> None:
    """Stop what `conveyor up --detach` started."""
    path = _pid_file(context)
    if not path.exists():
        click.echo(f"nothing to stop: no `conveyor up --detach` runs from {path.parent}")
        return
    running = read_record(path)
    stop_groups(running)
    path.unlink()
    if running:
        click.echo(f"stopped {', '.join(group.name for group in running)}")
    else:
        click.echo(f"nothing was running any more: removed {path}")


def _default_procfile() -> Path:
    for candidate in (Path.cwd() / "Procfile", Path(conveyor.__file__).resolve().parent.parent / "Procfile"):
        if candidate.is_file():
            return candidate
    raise ConfigurationError("no Procfile here or beside the conveyor package: pass --procfile")


def _pid_file(context: Context) -> Path:
    return context.settings.path("stack.json")


def _wait_for_interrupt() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass


COMMANDS = [worker, scheduler, db, up, down]
