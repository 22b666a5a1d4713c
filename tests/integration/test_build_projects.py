"""Registered build projects decide a build's buildspec, queue, timeouts and variables."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from flask.testing import FlaskClient
from moto import mock_aws
from rq import Queue, SimpleWorker
from sqlalchemy import select

from conveyor import aws
from conveyor.build.cache_store import CacheConfig
from conveyor.db.models import Build
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline

PROJECT = {
    "name": "api",
    "source": {"buildspec": "ci/build.yml"},
    "environment": {
        "computeType": "BUILD_GENERAL1_MEDIUM",
        "environmentVariables": [
            {"name": "STAGE", "value": "from-project"},
            {"name": "TOKEN", "value": "/ci/token", "type": "PARAMETER_STORE"},
        ],
    },
    "timeoutInMinutes": 20,
    "serviceRole": "arn:aws:iam::123456789012:role/codebuild",
}
BUILDSPEC = """\
version: 0.2
env:
  variables:
    STAGE: from-buildspec
  exported-variables: [STAGE, TOKEN]
phases:
  build:
    commands:
      - mkdir -p out && echo "$STAGE ${#TOKEN}" > out/seen.txt
artifacts:
  files: [out/seen.txt]
"""


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    aws.reset()
    with mock_aws():
        boto3.client("ssm", region_name="us-east-1").put_parameter(
            Name="/ci/token", Value="s3cret-token", Type="SecureString"
        )
        yield
    aws.reset()


def test_put_get_and_list_a_project(client: FlaskClient) -> None:
    created = client.put("/api/v1/projects/api", data=json.dumps(PROJECT), headers={"Content-Type": "application/json"})
    assert created.status_code == 200
    body = created.get_json()
    assert (body["queue"], body["timeoutInMinutes"]) == ("build-medium", 20)
    assert body["ignoredKeys"] == ["serviceRole"]
    assert client.get("/api/v1/projects/api").get_json()["source"]["buildspec"] == "ci/build.yml"
    assert [p["name"] for p in client.get("/api/v1/projects").get_json()["projects"]] == ["api"]


def test_a_project_as_get_shows_it_can_be_put_again(client: FlaskClient) -> None:
    client.put("/api/v1/projects/api", data=json.dumps(PROJECT), headers={"Content-Type": "application/json"})
    shown = client.get("/api/v1/projects/api").get_json()
    assert {"queue", "lastBuildNumber", "created", "lastModified"} <= set(shown)

    again = client.put("/api/v1/projects/api", data=json.dumps(shown), headers={"Content-Type": "application/json"})

    assert again.status_code == 200, again.get_json()
    assert again.get_json()["ignoredKeys"] == []  # what Conveyor showed is not reported as ignored either


def test_a_file_for_another_project_is_409_and_a_bad_one_400(client: FlaskClient) -> None:
    other = client.put("/api/v1/projects/web", data=json.dumps(PROJECT), headers={"Content-Type": "application/json"})
    bad = client.post(
        "/api/v1/projects", data='{"name": "x", "timeoutInMinutes": 1}', headers={"Content-Type": "application/json"}
    )
    assert other.status_code == 409
    assert bad.status_code == 400
    assert {p["path"] for p in bad.get_json()["problems"]} == {"name", "timeoutInMinutes"}


def test_a_build_of_a_registered_project_uses_its_settings(
    rt: Runtime, client: FlaskClient, repo: GitRepo, ssm: None
) -> None:
    client.put("/api/v1/projects/api", data=json.dumps(PROJECT), headers={"Content-Type": "application/json"})
    repo.commit({"ci/build.yml": BUILDSPEC})
    definitions.create_pipeline(
        rt, as_yaml(pipeline("projects", repo.url, build_actions=[build_action(project="api")]))
    )
    execution_id = pipelines.start_pipeline(rt, "projects")
    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")

    assert Queue("build-medium", connection=rt.redis).count == 1  # waits for a worker of its compute type
    assert Queue("build-small", connection=rt.redis).count == 0
    SimpleWorker(["build-medium", "pipeline"], connection=rt.redis).work(burst=True, logging_level="WARNING")

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    action = execution["stages"][1]["actions"][0]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(action["outputArtifacts"]["BuildOutput"]["key"]))) as archive:
        assert archive.read("out/seen.txt") == b"from-project 12\n"  # the project wins; the secret arrived
    assert action["outputVariables"] == {"STAGE": "from-project"}  # a project secret is never exported
    with rt.db.reader() as session:
        build = session.scalars(select(Build)).one()
        assert (build.compute_type, build.timeout_minutes) == ("BUILD_GENERAL1_MEDIUM", 20)
    assert "s3cret-token" not in client.get(f"/api/v1/builds/{build.id}/logs").get_data(as_text=True)


CACHED_BUILDSPEC = """\
version: 0.2
phases:
  install:
    commands:
      - '[ -f deps/lib.txt ] && echo "cache hit" || { echo "cache miss"; mkdir -p deps && echo v1 > deps/lib.txt; }'
cache:
  key: deps-$(codebuild-hash-files lock.txt)
  paths: [deps]
"""


@pytest.mark.parametrize(("cache", "second_run"), [(None, "cache hit"), ({"type": "NO_CACHE"}, "cache miss")])
def test_builds_of_a_project_share_its_cache_on_the_worker(
    rt: Runtime, client: FlaskClient, repo: GitRepo, cache: dict[str, str] | None, second_run: str
) -> None:
    project = {"name": "cached", **({"cache": cache} if cache else {})}
    client.put("/api/v1/projects/cached", data=json.dumps(project), headers={"Content-Type": "application/json"})
    repo.commit({"buildspec.yml": CACHED_BUILDSPEC, "lock.txt": "1\n"})
    definitions.create_pipeline(
        rt, as_yaml(pipeline("cached", repo.url, build_actions=[build_action(project="cached")]))
    )

    for _ in range(2):
        pipelines.start_pipeline(rt, "cached")
        SimpleWorker(["pipeline", "default", "build-small"], connection=rt.redis).work(
            burst=True, logging_level="WARNING"
        )
    with rt.db.reader() as session:
        builds = session.scalars(select(Build).order_by(Build.build_number)).all()
        logs = [client.get(f"/api/v1/builds/{b.id}/logs").get_data(as_text=True) for b in builds]
        assert [b.status for b in builds] == ["SUCCEEDED", "SUCCEEDED"]
        assert builds[0].cache == CacheConfig.for_project(cache, "cached").record()

    assert "cache miss" in logs[0]
    assert second_run in logs[1]
    assert (rt.settings.path("cache", "caches", "cached").exists()) is (cache is None)


def test_the_actions_environment_variables_win_over_the_projects(
    rt: Runtime, client: FlaskClient, repo: GitRepo, ssm: None
) -> None:
    client.put("/api/v1/projects/api", data=json.dumps(PROJECT), headers={"Content-Type": "application/json"})
    repo.commit({"ci/build.yml": BUILDSPEC})
    overrides = [
        {"name": "STAGE", "value": "from-action", "type": "PLAINTEXT"},
        {"name": "TOKEN", "value": "/ci/token", "type": "PARAMETER_STORE"},
    ]
    action = build_action(project="api")
    action["configuration"]["EnvironmentVariables"] = json.dumps(overrides)
    definitions.create_pipeline(rt, as_yaml(pipeline("overrides", repo.url, build_actions=[action])))
    execution_id = pipelines.start_pipeline(rt, "overrides")
    SimpleWorker(["pipeline", "default", "build-medium"], connection=rt.redis).work(burst=True, logging_level="WARNING")

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    action_run = execution["stages"][1]["actions"][0]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(action_run["outputArtifacts"]["BuildOutput"]["key"]))) as zipped:
        assert zipped.read("out/seen.txt") == b"from-action 12\n"


def test_bad_environment_variables_in_an_action_are_refused_with_the_reason(client: FlaskClient, repo: GitRepo) -> None:
    action = build_action(project="api")
    action["configuration"]["EnvironmentVariables"] = '[{"name": "X", "value": "1", "type": "SECRET"}]'
    action["configuration"]["BatchEnabled"] = "maybe"
    response = client.post(
        "/api/v1/pipelines",
        data=as_yaml(pipeline("bad-overrides", repo.url, build_actions=[action])),
        headers={"Content-Type": "application/yaml"},
    )

    assert response.status_code == 400
    messages = {p["path"].rsplit(".", 1)[-1]: p["message"] for p in response.get_json()["problems"]}
    assert "type 'SECRET' is not one of PLAINTEXT, PARAMETER_STORE, SECRETS_MANAGER" in messages["EnvironmentVariables"]
    assert messages["BatchEnabled"] == "must be true or false"
