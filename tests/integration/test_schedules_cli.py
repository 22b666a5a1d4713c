"""`conveyor schedules …` on the same settings a server would use: create, list, show, pause, resume, run, history,
delete — the pipeline and the build a schedule starts worked by an RQ worker on real Redis."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.schedules import janitor_project, release_pipeline

Invoke = Callable[..., Result]


@pytest.fixture
def cli(settings: Settings, rt: Runtime) -> Invoke:
    env = settings_environment(settings)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(main, ["--direct", "schedules", *args], env=env, catch_exceptions=False)

    return invoke


def test_a_pipeline_schedule_from_creation_to_deletion(cli: Invoke, rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    sha = release_pipeline(rt, repo)
    created = cli(
        "create",
        "nightly",
        "cron(0 2 ? * MON-FRI *)",
        "--tz",
        "Europe/Paris",
        "--pipeline",
        "release",
        "--variable",
        "DEPLOY_ENV=prod",
        "--revision",
        sha,
        "--description",
        "the nightly release",
    )
    assert created.exit_code == 0, created.output
    when = r"cron\(0 2 \? \* MON-FRI \*\) in Europe/Paris, next \d{4}-\d\d-\d\dT02:00:00\+0[12]:00"
    assert re.fullmatch(f"created schedule nightly: {when}\n", created.stdout)

    assert "nightly" in cli("list").stdout
    shown = cli("show", "nightly", "--count", "3")
    assert shown.stdout.count("next: ") == 3
    assert "missed slots: run-once" in shown.stdout
    as_json = json.loads(cli("show", "nightly", "-o", "json").stdout)
    assert as_json["target"] == {"pipelineName": "release", "variables": {"DEPLOY_ENV": "prod"}, "revision": sha}

    assert (
        cli("pause", "nightly").stdout == "paused schedule nightly: cron(0 2 ? * MON-FRI *) in Europe/Paris, paused\n"
    )
    assert re.fullmatch(f"resumed schedule nightly: {when}\n", cli("resume", "nightly").stdout)

    ran = cli("run", "nightly")
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.startswith("schedule nightly started pipeline release: execution ")
    execution_id = ran.stdout.split()[-1]
    run_jobs()
    [entry] = json.loads(cli("history", "nightly", "-o", "json").stdout)
    assert entry["target"]["pipelineExecutionId"] == execution_id
    assert entry["targetStatus"] == "Succeeded"
    table = cli("history", "nightly").stdout
    assert "run-now" in table
    assert "Succeeded" in table

    assert cli("delete", "nightly").stdout == "deleted schedule nightly\n"
    gone = cli("show", "nightly")
    assert (gone.exit_code, gone.stderr.strip()) == (1, "error: no schedule named 'nightly'")


def test_a_build_schedule_run_from_the_cli(cli: Invoke, rt: Runtime, run_jobs: Any) -> None:
    janitor_project(rt)
    created = cli(
        "create", "cleanup", "rate(1 day)", "--project", "janitor", "--env", "KEEP_DAYS=30", "--missed", "skip"
    )
    assert created.exit_code == 0, created.output
    ran = cli("run", "cleanup", "-o", "json")
    build_id = json.loads(ran.stdout)["target"]["buildId"]
    run_jobs()
    [entry] = json.loads(cli("history", "cleanup", "-o", "json").stdout)
    assert (entry["target"]["buildId"], entry["targetStatus"]) == (build_id, "SUCCEEDED")
    assert json.loads(cli("list", "-o", "json").stdout)[0]["missed"] == "skip"


def test_mistakes_are_refused_with_the_reason(cli: Invoke, rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    invalid = cli("create", "bad", "cron(0 12 * * ? *", "--pipeline", "release")
    assert invalid.exit_code == 1
    assert "scheduleExpression: cron( is not closed with ')'" in invalid.stderr
    both = cli("create", "bad", "rate(1 hour)", "--pipeline", "release", "--project", "janitor")
    assert both.exit_code == 2
    assert "give one of --pipeline NAME or --project NAME" in both.stderr
    mixed = cli("create", "bad", "rate(1 hour)", "--project", "janitor", "--variable", "A=1")
    assert mixed.exit_code == 2
    unknown = cli("create", "bad", "rate(1 hour)", "--pipeline", "absent")
    assert unknown.exit_code == 1
    assert "target.pipelineName: no pipeline named 'absent'" in unknown.stderr
    assert cli("list", "-o", "json").stdout.strip() == "[]"
