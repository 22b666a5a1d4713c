"""What Conveyor received from GitHub, seen afterwards: the deliveries newest first, what each started or why it
started nothing; through the services, the REST API and the command line, on real SQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.errors import InvalidRequest, NotFound
from conveyor.pipeline import definitions
from conveyor.runtime import Runtime
from conveyor.triggers import deliveries
from conveyor.triggers.github import ZERO_SHA, push_payload
from tests.integration.conftest import deliver
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


@pytest.fixture
def received(client: FlaskClient, rt: Runtime, repo: GitRepo) -> dict[str, Any]:
    """Four deliveries, oldest first: a push that starts the pipeline, one to a branch nothing follows, a branch
    deletion, and a ping; then the first again (a redelivery, which is not recorded twice)."""
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    started = deliver(client, "push", push_payload("acme/app", repo.url, sha), delivery="d-1").get_json()
    deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/heads/dev"), delivery="d-2")
    deletion = push_payload("acme/app", repo.url, ZERO_SHA, before=sha)
    deletion["head_commit"] = None
    deliver(client, "push", deletion, delivery="d-3")
    deliver(client, "ping", {"zen": "Design for failure."}, delivery="d-4")
    assert deliver(client, "push", push_payload("acme/app", repo.url, sha), delivery="d-1").status_code == 200
    return {"sha": sha, "execution_ids": started["executionIds"]}


def test_deliveries_newest_first_with_what_they_started_or_why_not(rt: Runtime, received: dict[str, Any]) -> None:
    listed = deliveries.list_deliveries(rt)

    assert [(d["deliveryId"], d["event"], d["outcome"]) for d in listed] == [
        ("d-4", "ping", "ignored"),
        ("d-3", "push", "ignored"),
        ("d-2", "push", "ignored"),
        ("d-1", "push", "started"),
    ]
    ping, deletion, elsewhere, started = listed
    assert ping["detail"] == "event 'ping' starts nothing"
    assert ping["repository"] is None
    assert deletion["detail"] == "a branch or tag deletion starts nothing"
    assert elsewhere["detail"] == "no pipeline starts on refs/heads/dev of acme/app"
    assert (elsewhere["ref"], elsewhere["headCommit"], elsewhere["executionIds"]) == (
        "refs/heads/dev",
        received["sha"],
        [],
    )
    assert started["executionIds"] == received["execution_ids"]
    assert (started["repository"], started["ref"], started["detail"]) == ("acme/app", "refs/heads/main", "")
    assert started["receivedAt"].endswith("Z")
    assert deliveries.get_delivery(rt, "d-2") == elsewhere


def test_deliveries_are_filtered_by_repository_outcome_and_limit(rt: Runtime, received: dict[str, Any]) -> None:
    assert [d["deliveryId"] for d in deliveries.list_deliveries(rt, repository="acme/app")] == ["d-3", "d-2", "d-1"]
    assert [d["deliveryId"] for d in deliveries.list_deliveries(rt, repository="ACME/App")] == ["d-3", "d-2", "d-1"]
    assert deliveries.list_deliveries(rt, repository="acme/other") == []
    assert [d["deliveryId"] for d in deliveries.list_deliveries(rt, outcome="started")] == ["d-1"]
    assert [d["deliveryId"] for d in deliveries.list_deliveries(rt, limit=2)] == ["d-4", "d-3"]
    with pytest.raises(InvalidRequest, match="outcome 'lost' must be one of started, ignored, deferred, failed"):
        deliveries.list_deliveries(rt, outcome="lost")
    with pytest.raises(NotFound, match="no webhook delivery d-9"):
        deliveries.get_delivery(rt, "d-9")


def test_the_api_lists_and_shows_deliveries_and_refuses_bad_queries(
    client: FlaskClient, received: dict[str, Any]
) -> None:
    listed = client.get("/api/v1/webhook-deliveries?repository=acme/app&outcome=ignored&limit=1")
    assert listed.status_code == 200
    assert [d["deliveryId"] for d in listed.get_json()["deliveries"]] == ["d-3"]
    shown = client.get("/api/v1/webhook-deliveries/d-1")
    assert shown.status_code == 200
    assert shown.get_json()["executionIds"] == received["execution_ids"]

    for bad in ("?outcome=lost", "?limit=0", "?limit=many"):
        answer = client.get(f"/api/v1/webhook-deliveries{bad}")
        assert answer.status_code == 400, bad
        assert answer.get_json()["message"]
    missing = client.get("/api/v1/webhook-deliveries/d-9")
    assert missing.status_code == 404
    assert missing.get_json()["message"] == "no webhook delivery d-9"


def test_the_cli_lists_and_shows_deliveries(settings: Settings, received: dict[str, Any]) -> None:
    runner, env = CliRunner(), {**settings_environment(settings), "COLUMNS": "240"}  # one table row per delivery

    def cli(*args: str) -> str:
        result = runner.invoke(main, ["--direct", "webhooks", *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    as_json = json.loads(cli("deliveries", "--outcome", "started", "--output", "json"))
    assert [(d["deliveryId"], d["executionIds"]) for d in as_json] == [("d-1", received["execution_ids"])]
    table = cli("deliveries", "--repository", "acme/app")
    assert "no pipeline starts on refs/heads/dev of acme/app" in table
    listed = [line.split("│")[0].strip() for line in table.splitlines() if "│" in line]  # the DELIVERY column
    assert listed == ["d-3", "d-2", "d-1"]  # the ping (d-4) names no repository
    shown = cli("show", "d-1")
    assert f"acme/app @ refs/heads/main at {received['sha'][:12]}" in shown
    assert f"started execution {received['execution_ids'][0]}" in shown
    refused = runner.invoke(main, ["--direct", "webhooks", "show", "d-9"], env=env)
    assert refused.exit_code != 0
    assert "no webhook delivery d-9" in refused.output
