"""Long lists a page at a time: executions, builds and webhook deliveries, newest first, each page going on from
where the previous one ended (`nextToken`), through the services, the REST API and the command line, on real SQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select, update

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.db import newest_first
from conveyor.db.models import Build, PipelineExecution
from conveyor.errors import InvalidRequest
from conveyor.paging import page_token
from conveyor.pipeline import definitions, views
from conveyor.pipeline.service import start_pipeline
from conveyor.runtime import Runtime
from conveyor.triggers import deliveries
from conveyor.triggers.github import push_payload
from tests.integration.conftest import deliver
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


@pytest.fixture
def started(rt: Runtime, repo: GitRepo) -> list[str]:
    """Five executions of pipeline `app`, newest first; the middle three share one start time to the microsecond
    (as executions a single push starts may), so only their ids order them."""
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    ids = [start_pipeline(rt, "app") for _ in range(5)]
    with rt.db.session() as session:
        now = datetime.now(UTC)
        same = (now - timedelta(days=2)).replace(microsecond=678901)
        session.execute(update(PipelineExecution).where(PipelineExecution.id.in_(ids[1:4])).values(created_at=same))
        session.execute(
            update(PipelineExecution).where(PipelineExecution.id == ids[0]).values(created_at=now - timedelta(days=3))
        )
        session.execute(
            update(PipelineExecution).where(PipelineExecution.id == ids[4]).values(created_at=now - timedelta(days=1))
        )
    return [ids[4], *sorted(ids[1:4], reverse=True), ids[0]]


def _all_pages(rt: Runtime, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    page = views.page_of_executions(rt, "app", limit)
    pages = 1
    seen += [e["pipelineExecutionId"] for e in page.items]
    while page.next_token is not None:
        page = views.page_of_executions(rt, "app", limit, page.next_token)
        pages += 1
        seen += [e["pipelineExecutionId"] for e in page.items]
    return seen, pages


@pytest.mark.parametrize(("limit", "pages"), [(1, 5), (2, 3), (4, 2), (5, 1), (6, 1)])
def test_pages_of_executions_give_each_once_in_order(rt: Runtime, started: list[str], limit: int, pages: int) -> None:
    assert _all_pages(rt, limit) == (started, pages)


def test_a_page_goes_on_from_its_token_while_new_executions_arrive(rt: Runtime, started: list[str]) -> None:
    first = views.page_of_executions(rt, None, 2)
    assert [e["pipelineExecutionId"] for e in first.items] == started[:2]
    newest = start_pipeline(rt, "app")  # arrives at the top, after the first page was read

    second = views.page_of_executions(rt, None, 2, first.next_token)

    assert [e["pipelineExecutionId"] for e in second.items] == started[2:4]
    assert views.list_executions(rt, None, 1)[0]["pipelineExecutionId"] == newest


def test_a_token_that_is_not_one_is_refused(rt: Runtime, started: list[str]) -> None:
    with pytest.raises(InvalidRequest, match="nextToken 'not-a-token' is not one a list of executions gave"):
        views.page_of_executions(rt, None, 2, "not-a-token")
    with pytest.raises(InvalidRequest, match="is not one a list of executions gave"):
        views.page_of_executions(rt, None, 2, page_token("builds", "2026-01-01T00:00:00", "app:1"))


def test_the_api_pages_executions_and_answers_400_for_a_bad_token(client: FlaskClient, started: list[str]) -> None:
    first = client.get("/api/v1/executions?limit=3").get_json()
    assert [e["pipelineExecutionId"] for e in first["executions"]] == started[:3]
    last = client.get("/api/v1/executions", query_string={"limit": 3, "nextToken": first["nextToken"]}).get_json()
    assert [e["pipelineExecutionId"] for e in last["executions"]] == started[3:]
    assert "nextToken" not in last  # the last page has none, as CodePipeline's

    refused = client.get("/api/v1/executions?nextToken=%7B%7D")
    assert refused.status_code == 400
    assert refused.get_json() == {
        "error": "InvalidRequest",
        "message": "nextToken '{}' is not one a list of executions gave",
    }


@pytest.mark.parametrize("through", ["server", "direct"])
def test_the_cli_says_how_to_see_the_next_page(
    settings: Settings, started: list[str], server_url: str, through: str
) -> None:
    runner = CliRunner()
    env = settings_environment(settings)
    where = ["--server", server_url] if through == "server" else ["--direct"]

    first = runner.invoke(main, [*where, "executions", "list", "--limit", "2", "-o", "json"], env=env)
    assert first.exit_code == 0, first.output
    assert [e["pipelineExecutionId"] for e in json.loads(first.stdout)] == started[:2]
    token = first.stderr.removeprefix("more: add --next-token ").strip()

    rest = runner.invoke(main, [*where, "executions", "list", "--limit", "3", "--next-token", token], env=env)
    assert rest.exit_code == 0, rest.output
    assert rest.stderr == ""  # nothing more after it
    assert all(execution_id[:8] in rest.stdout for execution_id in started[2:])


def test_builds_and_deliveries_page_the_same_way(client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    for n in range(3):  # one after the other: a push would supersede the one before it
        deliver(client, "push", push_payload("acme/app", repo.url, sha), delivery=f"d-{n}")
        run_jobs()
    with rt.db.session() as session:  # the three builds started in one moment: their ids order them
        session.execute(update(Build).values(created_at=datetime(2026, 1, 2, tzinfo=UTC)))

    builds = client.get("/api/v1/builds?limit=2").get_json()
    more = client.get("/api/v1/builds", query_string={"limit": 2, "nextToken": builds["nextToken"]}).get_json()
    ids = [b["id"] for b in builds["builds"] + more["builds"]]
    assert len(set(ids)) == 3
    assert ids == sorted(ids, reverse=True)
    assert "nextToken" not in more

    page = deliveries.page_of_deliveries(rt, limit=2)
    rest = deliveries.page_of_deliveries(rt, limit=2, next_token=page.next_token)
    assert [d["deliveryId"] for d in page.items + rest.items] == ["d-2", "d-1", "d-0"]
    assert rest.next_token is None
    answered = client.get("/api/v1/webhook-deliveries", query_string={"limit": 1, "nextToken": page.next_token})
    assert [d["deliveryId"] for d in answered.get_json()["deliveries"]] == ["d-0"]
    assert "nextToken" not in answered.get_json()  # d-0 is the last: one row more was asked for, and none came


@pytest.mark.parametrize(
    ("kind", "key"),
    [("executions", ["not a time", "x"]), ("executions", ["2026-01-01T00:00:00+00:00", 7]), ("deliveries", ["7"])],
    ids=["bad-time", "id-not-text", "id-not-a-number"],
)
def test_a_token_of_the_right_kind_with_a_wrong_key_is_a_400(client: FlaskClient, kind: str, key: list[object]) -> None:
    token = page_token(kind, *key)  # type: ignore[arg-type]
    path = "/api/v1/executions" if kind == "executions" else "/api/v1/webhook-deliveries"

    refused = client.get(path, query_string={"nextToken": token})

    assert refused.status_code == 400
    assert refused.get_json()["message"].endswith(f"is not one a list of {kind} gave")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL may sort a small table instead
@pytest.mark.parametrize("model", [PipelineExecution, Build])
@pytest.mark.parametrize("after", [None, [datetime(2026, 1, 1, tzinfo=UTC), "z"]])
def test_a_page_of_the_newest_reads_an_index_in_order(rt: Runtime, model: type, after: list[object] | None) -> None:
    query = newest_first(select(model), [model.created_at, model.id], after, 20)  # type: ignore[attr-defined]

    with rt.db.engine.connect() as connection:
        compiled = query.compile(connection)
        # planned with parameters, as it runs (with the values written in, SQLite plans another way); their values
        # do not change the plan
        placeholders = tuple("x" for _ in compiled.positiontup or ())
        plan = " | ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", placeholders))

    assert "USING INDEX ix_" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of the whole table
    if after is not None:  # a later page starts reading where the previous one ended, not at the newest row
        assert "SEARCH" in plan, plan
