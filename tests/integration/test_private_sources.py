"""Pipelines whose source is a private repository over HTTPS: the server's GitHub token for GitHub's site, or a GitHub
(version 1) action's own OAuthToken; secrets masked wherever a pipeline or an execution is shown, and kept when a
definition sends the masks back. The repository is served by git's `http-backend` behind Basic authentication."""

from __future__ import annotations

import copy
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from conveyor.config import Settings
from conveyor.db.models import Build, WebhookDelivery
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from tests.conftest import settings_for
from tests.integration.conftest import deliver
from tests.integration.test_push_file_filters import _long_push
from tests.support.git_http import GitServer, git_http_server
from tests.support.github import pull_request_payload
from tests.support.gitrepo import GitRepo, make_repo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, build_action, pipeline

SERVER_TOKEN = "ghp_server-token-0123456789"
ACTION_TOKEN = "gho_action-token-9876543210"


@pytest.fixture
def served(tmp_path: Path) -> GitRepo:
    repository = make_repo(tmp_path / "served" / "acme" / "app")
    repository.commit({"buildspec.yml": SIMPLE_BUILDSPEC}, "add buildspec")
    return repository


@pytest.fixture
def server(tmp_path: Path, served: GitRepo) -> Iterator[GitServer]:
    with git_http_server(tmp_path / "served", "x-access-token", SERVER_TOKEN) as running:
        yield running


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_client: Any, server: GitServer) -> Settings:
    """GitHub's site is the test server (as a GitHub Enterprise host would be); the server's token reads it."""
    return settings_for(tmp_path, database_url, github_token=SERVER_TOKEN, github_api_url=f"{server.url}/api/v3")


def github_v1_pipeline(name: str, url: str, token: str) -> dict[str, Any]:
    source = {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
        "configuration": {"Owner": "acme", "Repo": "app", "Branch": "main", "RepositoryUrl": url, "OAuthToken": token},
        "outputArtifacts": [{"name": "SourceOutput"}],
    }
    return {"pipeline": {"name": name, "stages": [stage("Source", source), stage("Build", build_action())]}}


def stage(name: str, action: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "actions": [action]}


def run(rt: Runtime, name: str, run_jobs: Any) -> dict[str, Any]:
    execution_id = pipelines.start_pipeline(rt, name)
    run_jobs()
    return views.get_execution(rt, execution_id)


def test_the_servers_github_token_reads_a_private_repository(
    rt: Runtime, server: GitServer, served: GitRepo, run_jobs: Any
) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("private", server.repository_url("acme/app"))))

    execution = run(rt, "private", run_jobs)

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert execution["stages"][0]["actions"][0]["outputVariables"]["CommitId"] == served.head()
    assert ("x-access-token", SERVER_TOKEN) in server.credentials_seen


def test_without_a_token_the_source_fails_saying_what_is_missing(
    tmp_path: Path, database_url: str, redis_client: Any, server: GitServer, run_jobs: Any, rt: Runtime
) -> None:
    # this pipeline's repository is served from another site than GitHub's: the server's token is not for it
    url = server.repository_url("acme/app").replace("127.0.0.1", "localhost")
    definitions.create_pipeline(rt, as_yaml(pipeline("elsewhere", url)))

    execution = run(rt, "elsewhere", run_jobs)

    source = execution["stages"][0]["actions"][0]
    assert execution["status"] == "Failed"
    assert source["errorCode"] == "JobFailed"
    assert "no token is configured for http://localhost:" in source["summary"]
    assert set(server.credentials_seen) == {None}  # the server's token never went to the other site
    assert SERVER_TOKEN not in json.dumps(execution)


def test_an_oauth_token_reads_its_repository_and_is_shown_masked(
    rt: Runtime, server: GitServer, run_jobs: Any, tmp_path: Path
) -> None:
    with git_http_server(tmp_path / "served", "x-access-token", ACTION_TOKEN) as own:
        url = own.repository_url("acme/app")
        definitions.create_pipeline(rt, as_yaml(github_v1_pipeline("v1", url, ACTION_TOKEN)))

        execution = run(rt, "v1", run_jobs)
        shown = definitions.get_pipeline(rt, "v1")

        assert execution["status"] == "Succeeded", execution["statusSummary"]
        assert ("x-access-token", ACTION_TOKEN) in own.credentials_seen
        assert execution["stages"][0]["actions"][0]["resolvedConfiguration"]["OAuthToken"] == "****"
        assert shown["pipeline"]["stages"][0]["actions"][0]["configuration"]["OAuthToken"] == "****"
        assert ACTION_TOKEN not in json.dumps(shown) + json.dumps(execution)

        # what `pipeline get` showed, edited and saved again: the token behind the mask is kept
        edited = copy.deepcopy(shown["pipeline"])
        del edited["version"]
        edited["stages"][1]["actions"][0]["configuration"]["ProjectName"] = "renamed"
        assert definitions.update_pipeline(rt, "v1", json.dumps({"pipeline": edited}))["pipeline"]["version"] == 2
        assert definitions.current_definition(rt, "v1").source_actions()[0].configuration["OAuthToken"] == ACTION_TOKEN
        assert run(rt, "v1", run_jobs)["status"] == "Succeeded"


def test_a_mask_with_no_token_behind_it_is_no_token(rt: Runtime, server: GitServer, run_jobs: Any) -> None:
    # a definition exported from CodePipeline carries `****`: the server's token reads GitHub's site instead
    definitions.create_pipeline(rt, as_yaml(github_v1_pipeline("exported", server.repository_url("acme/app"), "****")))

    assert run(rt, "exported", run_jobs)["status"] == "Succeeded"
    assert ("x-access-token", SERVER_TOKEN) in server.credentials_seen


def test_credentials_in_a_repository_url_are_masked_and_kept(rt: Runtime, server: GitServer, run_jobs: Any) -> None:
    url = server.repository_url("acme/app").replace("http://", f"http://x-access-token:{SERVER_TOKEN}@")
    definitions.create_pipeline(rt, as_yaml(pipeline("in-url", url)))

    shown = definitions.get_pipeline(rt, "in-url")["pipeline"]
    configuration = shown["stages"][0]["actions"][0]["configuration"]
    assert configuration["RepositoryUrl"] == server.repository_url("acme/app").replace("http://", "http://***@")

    del shown["version"]
    definitions.update_pipeline(rt, "in-url", json.dumps({"pipeline": shown}))
    assert definitions.current_definition(rt, "in-url").source_actions()[0].configuration["RepositoryUrl"] == url
    execution = run(rt, "in-url", run_jobs)
    assert execution["status"] == "Succeeded"
    assert SERVER_TOKEN not in json.dumps(execution)


def test_a_full_clone_of_a_url_with_credentials_keeps_them_out_of_the_clone(
    rt: Runtime, server: GitServer, run_jobs: Any
) -> None:
    url = server.repository_url("acme/app").replace("http://", f"http://x-access-token:{SERVER_TOKEN}@")
    document = pipeline("cloned", url, build_actions=[build_action(outputs=())])
    document["pipeline"]["stages"][0]["actions"][0]["configuration"]["OutputArtifactFormat"] = "CODEBUILD_CLONE_REF"
    definitions.create_pipeline(rt, as_yaml(document))

    assert run(rt, "cloned", run_jobs)["status"] == "Succeeded"

    with rt.db.reader() as session:
        key = session.scalars(select(Build)).one().input_artifacts[0]["key"]
    archive = zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(key)))
    assert f"url = {server.repository_url('acme/app')}" in archive.read(".git/config").decode()
    assert not [name for name in archive.namelist() if SERVER_TOKEN.encode() in archive.read(name)]


def test_an_ssh_urls_user_name_is_shown(rt: Runtime) -> None:
    url = "ssh://git@git.example.test/acme/app.git"
    definitions.create_pipeline(rt, as_yaml(pipeline("over-ssh", url)))

    shown = definitions.get_pipeline(rt, "over-ssh")["pipeline"]

    assert shown["stages"][0]["actions"][0]["configuration"]["RepositoryUrl"] == url


def test_a_mask_is_kept_only_for_the_same_action(rt: Runtime, server: GitServer, run_jobs: Any) -> None:
    definitions.create_pipeline(rt, as_yaml(github_v1_pipeline("moved", server.repository_url("acme/app"), "t0k3n")))
    document = github_v1_pipeline("moved", server.repository_url("acme/app"), "****")
    document["pipeline"]["stages"][0]["actions"][0]["name"] = "Renamed"

    definitions.update_pipeline(rt, "moved", json.dumps(document))

    assert definitions.current_definition(rt, "moved").source_actions()[0].configuration["OAuthToken"] == "****"


def test_a_long_push_is_decided_reading_the_private_repository(
    client: FlaskClient, rt: Runtime, server: GitServer, served: GitRepo, run_jobs: Any
) -> None:
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": "Source",
            "push": [{"branches": {"includes": ["main"]}, "filePaths": {"includes": ["src/**"]}}],
        },
    }
    definitions.create_pipeline(rt, as_yaml(pipeline("paths", server.repository_url("acme/app"), triggers=[trigger])))
    *_, payload = _long_push(served, {"src/app.py": "print('hi')\n"})

    assert deliver(client, "push", payload, delivery="long-private").get_json()["status"] == "deferred"
    run_jobs()  # the changed files are read from the private repository, with the server's token

    with rt.db.reader() as session:
        delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == "long-private")).one()
    assert delivery.outcome == "started", delivery.detail
    [execution_id] = delivery.execution_ids
    assert views.get_execution(rt, execution_id)["status"] == "Succeeded"


TOKEN_BUILDSPEC = """\
version: 0.2
env:
  git-credential-helper: yes
phases:
  build:
    commands:
      - mkdir -p out && echo "${CONVEYOR_GIT_TOKEN_0:-none}" > out/token.txt
artifacts:
  files: [out/token.txt]
"""


def lent_token(rt: Runtime, execution_id: str) -> str:
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    artifact = execution["stages"][1]["actions"][0]["outputArtifacts"]["BuildOutput"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(artifact["key"]))) as archive:
        return archive.read("out/token.txt").decode().strip()


def test_a_pull_requests_build_is_not_lent_the_servers_token(
    client: FlaskClient, rt: Runtime, server: GitServer, served: GitRepo, run_jobs: Any
) -> None:
    served.commit({"buildspec.yml": TOKEN_BUILDSPEC}, "a build that asks for git credentials")
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": "Source",
            "push": [{"branches": {"includes": ["main"]}}],
            "pullRequest": [{"branches": {"includes": ["main"]}}],
        },
    }
    url = server.repository_url("acme/app")
    definitions.create_pipeline(rt, as_yaml(pipeline("lending", url, triggers=[trigger])))
    head = served.pull_request(3, {"src/app.py": "print('from a fork')\n"})

    pushed = deliver(client, "push", push_payload("acme/app", url, served.head()))
    opened = deliver(
        client,
        "pull_request",
        pull_request_payload("acme/app", url, 3, "opened", base_sha=served.head(), head_sha=head),
    )
    run_jobs()

    assert lent_token(rt, pushed.get_json()["executionIds"][0]) == SERVER_TOKEN
    assert lent_token(rt, opened.get_json()["executionIds"][0]) == "none"
