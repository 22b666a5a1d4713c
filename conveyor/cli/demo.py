"""`conveyor demo`: commit the example app to a local repository, register the demo pipeline, push, watch it run."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import click
import requests
import yaml

import conveyor
from conveyor.cli.client import DEFAULT_URL
from conveyor.cli.http_client import HttpClient
from conveyor.cli.main import Context, pass_context
from conveyor.cli.output import print_table, status_text
from conveyor.errors import ConfigurationError, ConveyorError, NotFound
from conveyor.git import commit_all
from conveyor.triggers.github import push_payload, signature

EXAMPLES = Path(conveyor.__file__).resolve().parent.parent / "examples"
REPOSITORY = "demo/demo-app"


@click.command("demo")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for the run to finish.")
@pass_context
def demo(context: Context, timeout: float) -> None:
    """Push the example app to the demo pipeline through a signed webhook and show the run."""
    settings = context.settings
    if not settings.github_webhook_secret:
        raise ConfigurationError("the demo signs its push: set CONVEYOR_GITHUB_WEBHOOK_SECRET (the quickstart does)")
    url = context.server or DEFAULT_URL
    client = HttpClient(url, settings.api_token)
    repository = settings.path("demo", "demo-app")
    sha = _commit_example(repository)
    _register_pipeline(client, repository)
    click.echo(f"pushed {sha[:12]} to {repository} (branch main)")
    execution_id = _send_push(url, settings.github_webhook_secret, repository, sha)
    click.echo(f"the webhook started execution {execution_id}; watching it…")
    execution = _wait(client, execution_id, timeout)
    _show(client, execution)


def _commit_example(repository: Path) -> str:
    source = EXAMPLES / "demo-app"
    repository.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        target = repository / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)
    return commit_all(repository, f"demo commit {time.strftime('%Y-%m-%d %H:%M:%S')}")


def _register_pipeline(client: HttpClient, repository: Path) -> None:
    document = yaml.safe_load((EXAMPLES / "pipelines" / "demo.yml").read_text())
    source = document["pipeline"]["stages"][0]["actions"][0]
    source["configuration"]["RepositoryUrl"] = repository.as_uri()
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        client.get_pipeline("demo")
    except NotFound:
        client.create_pipeline(text, "examples/pipelines/demo.yml")
        return
    client.update_pipeline("demo", text, "examples/pipelines/demo.yml")


def _send_push(url: str, secret: str, repository: Path, sha: str) -> str:
    body = json.dumps(push_payload(REPOSITORY, repository.as_uri(), sha, message="demo commit")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(secret.encode(), body),
    }
    response = requests.post(f"{url}/webhooks/github", data=body, headers=headers, timeout=10)
    answer = response.json()
    if response.status_code != 202 or not answer.get("executionIds"):
        raise ConveyorError(f"the webhook started nothing (HTTP {response.status_code}): {answer}")
    return str(answer["executionIds"][0])


def _wait(client: HttpClient, execution_id: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = client.get_execution(execution_id)
        if execution["status"] not in ("InProgress", "Stopping") or time.monotonic() > deadline:
            return execution
        time.sleep(0.2)


def _show(client: HttpClient, execution: dict[str, Any]) -> None:
    rows = [
        [s["stageName"], a["actionName"], status_text(a["status"]), (a.get("summary") or "")[:70]]
        for s in execution["stages"]
        for a in s["actions"]
    ]
    print_table(
        ["STAGE", "ACTION", "STATUS", "SUMMARY"],
        rows,
        title=f"execution {execution['pipelineExecutionId']}: {execution['status']}",
    )
    build_id = execution["stages"][-1]["actions"][0].get("externalExecutionId")
    if build_id and execution["status"] != "InProgress":
        build = client.get_build(build_id)
        click.echo(f"\nbuild {build_id}: {build['buildStatus']}")
        click.echo("last lines of its log:")
        for line in client.build_logs(build_id).splitlines()[-8:]:
            click.echo(f"  {line}")
        if build.get("artifacts"):
            click.echo(f"artifact: {build['artifacts']['location']}")
    click.echo("\nwhere to look next:")
    click.echo(f"  conveyor executions show {execution['pipelineExecutionId']}")
    if build_id:
        click.echo(f"  conveyor builds logs {build_id}")
    click.echo(f"  {client.url}/api/v1/executions/{execution['pipelineExecutionId']}")
    if execution["status"] != "Succeeded":
        raise SystemExit(1)


COMMANDS = [demo]
