"""What schedule tests start: a pipeline with a variable over a real git repository, and a project that builds
without a source."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from conveyor.build import projects
from conveyor.pipeline import definitions
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline

T0 = datetime(2026, 1, 1, 0, 10, tzinfo=UTC)  # schedules in these tests are created at this moment
JANITOR_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo "keeping $KEEP_DAYS days for $CODEBUILD_INITIATOR"
"""


def release_pipeline(rt: Runtime, repo: GitRepo, name: str = "release") -> str:
    """A two-stage pipeline over `repo` declaring the variable DEPLOY_ENV; the commit it builds."""
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    document = pipeline(name, repo.url, pipelineType="V2", variables=[{"name": "DEPLOY_ENV", "defaultValue": "dev"}])
    definitions.create_pipeline(rt, as_yaml(document))
    return sha


def janitor_project(rt: Runtime, name: str = "janitor", buildspec: str | None = JANITOR_BUILDSPEC) -> None:
    """A project whose buildspec is inline, so it builds with no source (or, given a path, one that cannot)."""
    source = {"buildspec": buildspec} if buildspec else {}
    projects.put_project(rt, json.dumps({"name": name, "source": source}))


def pipeline_schedule(name: str, expression: str = "cron(0 * * * ? *)", **fields: Any) -> dict[str, Any]:
    target = {"pipelineName": "release", "variables": {"DEPLOY_ENV": "prod"}}
    return {"name": name, "scheduleExpression": expression, "target": target, **fields}


def build_schedule(name: str, expression: str = "cron(0 * * * ? *)", **fields: Any) -> dict[str, Any]:
    target = {"projectName": "janitor", "environmentVariables": {"KEEP_DAYS": "7"}}
    return {"name": name, "scheduleExpression": expression, "target": target, **fields}
