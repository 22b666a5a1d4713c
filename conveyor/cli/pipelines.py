"""`conveyor pipeline …`: register, update, validate, list and start pipelines."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import output_option, print_json, print_table
from conveyor.cli.watching import watch
from conveyor.errors import InvalidRequest, SpecError

if TYPE_CHECKING:
    from conveyor.pipeline.spec import PipelineDefinition


@click.group("pipeline")
def pipeline() -> None:
    """Pipelines in CodePipeline's structure (YAML or JSON)."""


@pipeline.command("create")
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@output_option
@pass_context
def create(context: Context, path: Path, output: str) -> None:
    """Register a new pipeline from FILE."""
    answer = context.client.create_pipeline(path.read_text(), path.name)
    _print_saved(answer, output, "created")


@pipeline.command("update")
@click.option("-f", "--file", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@output_option
@pass_context
def update(context: Context, path: Path, output: str) -> None:
    """Save FILE as the next version of the pipeline it names."""
    text = path.read_text()
    name = _parsed(text, path.name).name
    _print_saved(context.client.update_pipeline(name, text, path.name), output, "updated")


@pipeline.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check definitions without registering them; list every problem of each, exit 1 if any."""
    failed = False
    for path in paths:
        try:
            definition = _parsed(path.read_text(), str(path))
        except SpecError as exc:
            failed = True
            click.echo(exc.describe(), err=True)
        else:
            click.echo(f"{path}: valid ({definition.name}, {len(definition.stages)} stages)")
    if failed:
        raise SystemExit(1)


def _parsed(text: str, source: str) -> PipelineDefinition:
    """A definition read and checked here; the validator (jsonschema and the rules) loads only for the commands
    that need it, not for every command against a server."""
    from conveyor.pipeline.spec import parse_pipeline  # noqa: PLC0415 - deferred on purpose, see above

    return parse_pipeline(text, source)


@pipeline.command("delete")
@click.argument("name")
@pass_context
def delete(context: Context, name: str) -> None:
    """Delete pipeline NAME with its executions (builds and deployments it made are kept); refused while one of its
    executions is in progress."""
    deleted = context.client.delete_pipeline(name)
    click.echo(f"deleted pipeline {name} and its {deleted['executionsDeleted']} execution(s)")


@pipeline.command("list")
@output_option
@pass_context
def list_(context: Context, output: str) -> None:
    """List the registered pipelines."""
    pipelines = context.client.list_pipelines()
    if output == "json":
        print_json(pipelines)
        return
    print_table(
        ["NAME", "VERSION", "TYPE", "UPDATED"],
        [[p["name"], p["version"], p["pipelineType"], p["updated"]] for p in pipelines],
    )


@pipeline.command("get")
@click.argument("name")
@pass_context
def get(context: Context, name: str) -> None:
    """Print a pipeline's current definition (JSON)."""
    print_json(context.client.get_pipeline(name))


@pipeline.command("start")
@click.argument("name")
@click.option("--variable", "variables", multiple=True, metavar="NAME=VALUE", help="Pipeline variable override.")
@click.option(
    "--revision",
    "revisions",
    multiple=True,
    metavar="SHA|ACTION=VALUE",
    help="The commit (an S3 source: the object version) a source action uses; repeat for several source actions.",
)
@click.option(
    "--client-request-token",
    metavar="TOKEN",
    help="Start once per token: the same start again (a retried script) prints the execution it started.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="Follow the execution until it ends, printing its state changes; exit 0 if it succeeded, 1 otherwise.",
)
@output_option
@pass_context
def start(
    context: Context,
    name: str,
    variables: tuple[str, ...],
    revisions: tuple[str, ...],
    client_request_token: str | None,
    wait: bool,
    output: str,
) -> None:
    """Start an execution of pipeline NAME now."""
    revision = ",".join(revisions) or None
    execution_id = context.client.start_pipeline(name, pairs(variables), revision, client_request_token)
    if output != "json":
        click.echo(f"started {name}: execution {execution_id}")
    if wait:
        watch(context.client, execution_id, output)
    elif output == "json":
        print_json({"pipelineExecutionId": execution_id})
    else:
        click.echo(f"  follow it with: conveyor executions watch {execution_id}")


def pairs(values: tuple[str, ...]) -> dict[str, str]:
    """`("A=1", "B=x=y")` → `{"A": "1", "B": "x=y"}`; a value without `=` is an error naming it."""
    found = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise InvalidRequest(f"{value!r}: write it as NAME=VALUE")
        found[name] = rest
    return found


def _print_saved(answer: dict[str, object], output: str, verb: str) -> None:
    if output == "json":
        print_json(answer)
        return
    declaration = answer["pipeline"]
    assert isinstance(declaration, dict)
    click.echo(f"{verb} pipeline {declaration['name']} (version {declaration['version']})")


COMMANDS = [pipeline]
