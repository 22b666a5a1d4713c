"""Sources that poll for changes (`PollForSourceChanges`): git repositories made in the test and S3 as moto serves
it, on SQLite and PostgreSQL; the looks run in this process (`poll_sources`), the jobs they start with `run_jobs`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flask.testing import FlaskClient
from moto import mock_aws
from sqlalchemy import func, select

from conveyor.config import Settings
from conveyor.db.models import Dispatch, PipelineExecution
from conveyor.db.poll_models import SourcePoll
from conveyor.dispatch import Kind
from conveyor.errors import SpecError
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from conveyor.triggers.github import push_payload
from conveyor.triggers.polling import poll_sources, polled_sources, queue_poll
from conveyor.triggers.service import receive_delivery
from jobs.scheduler import run_scheduler
from tests.conftest import AWS_REGION
from tests.integration.test_pipeline_s3 import zip_of
from tests.support.gitrepo import GitRepo, make_repo
from tests.support.pipelines import as_yaml, build_action, pipeline, source_action

BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built $CODEBUILD_RESOLVED_SOURCE_VERSION\n"


def polling_pipeline(rt: Runtime, name: str, url: str, poll: str | None = "true") -> None:
    extra = {"PollForSourceChanges": poll} if poll is not None else {}
    document = pipeline(name, url, build_actions=[build_action(outputs=())])
    document["pipeline"]["stages"][0]["actions"] = [source_action(url, **extra)]
    definitions.create_pipeline(rt, as_yaml(document))


def execution(rt: Runtime, execution_id: str) -> dict[str, Any]:
    return views.get_execution(rt, execution_id)


def executions_of(rt: Runtime) -> int:
    with rt.db.reader() as session:
        return session.scalar(select(func.count()).select_from(PipelineExecution)) or 0


def poll_state(rt: Runtime, action: str = "Source") -> SourcePoll:
    with rt.db.reader() as session:
        return session.scalars(select(SourcePoll).where(SourcePoll.action_name == action)).one()


def test_a_polled_git_source_starts_its_pipeline_once_for_each_new_commit(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    first = repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "polled", repo.url)

    [started] = poll_sources(rt)  # it never ran: it starts with what is there, as a pipeline just created does
    run_jobs()
    ran = execution(rt, started)
    assert ran["status"] == "Succeeded"
    assert ran["trigger"] == {"triggerType": "PollForSourceChanges", "triggerDetail": "Source changed"}
    assert ran["sourceRevisions"][0]["revisionId"] == first
    assert poll_sources(rt) == []  # nothing new

    second = repo.commit({"README": "more"})
    [again] = poll_sources(rt)
    run_jobs()
    assert execution(rt, again)["sourceRevisions"][0]["revisionId"] == second
    assert poll_sources(rt) == []
    state = poll_state(rt)
    assert (state.revision, state.error) == (second, None)


def test_a_commit_a_push_already_started_is_not_started_again(rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "both", repo.url)
    assert len(poll_sources(rt)) == 1
    pushed = repo.commit({"README": "pushed"})

    outcome = receive_delivery(rt, "delivery-1", "push", push_payload("acme/app", repo.url, pushed))

    assert len(outcome.execution_ids) == 1
    assert poll_sources(rt) == []  # the webhook's execution runs this commit already
    assert executions_of(rt) == 2
    assert poll_state(rt).revision == pushed


def test_a_start_by_hand_of_an_older_commit_is_not_undone_by_the_next_look(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    old = repo.commit({"buildspec.yml": BUILDSPEC})
    repo.commit({"README": "newer"})
    polling_pipeline(rt, "pinned", repo.url)
    assert len(poll_sources(rt)) == 1
    run_jobs()

    by_hand = pipelines.start_pipeline(rt, "pinned", revision=old)
    run_jobs()

    assert execution(rt, by_hand)["sourceRevisions"][0]["revisionId"] == old
    assert poll_sources(rt) == []


def test_the_first_look_compares_with_the_newest_execution(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    head = repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "ran-before", repo.url)
    pipelines.start_pipeline(rt, "ran-before")
    run_jobs()  # the source fetched the head: the execution records it

    assert poll_sources(rt) == []
    assert poll_state(rt).revision == head


def test_sources_that_do_not_poll_are_never_read_and_no_look_is_queued(rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "pushed-only", repo.url, poll=None)
    polling_pipeline(rt, "said-false", make_repo(repo.path.parent / "other").url, poll="false")

    with rt.db.reader() as session:
        assert polled_sources(session) == []
    assert queue_poll(rt) is False
    assert poll_sources(rt) == []
    with rt.db.reader() as session:
        assert session.scalar(select(func.count()).select_from(SourcePoll)) == 0


def test_one_look_is_queued_at_a_time(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "queued", repo.url)

    assert queue_poll(rt) is True
    assert queue_poll(rt) is False  # the first is still queued
    with rt.db.reader() as session:
        kinds = session.scalars(select(Dispatch.kind).where(Dispatch.kind == Kind.POLL_SOURCES.value)).all()
    assert kinds == [Kind.POLL_SOURCES.value]

    run_jobs()  # the look, then the execution it started

    assert executions_of(rt) == 1
    assert queue_poll(rt) is True  # the first is done


def test_one_pass_of_the_scheduler_queues_a_look_and_a_worker_starts_what_changed(
    rt: Runtime, settings: Settings, repo: GitRepo, run_jobs: Any
) -> None:
    head = repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "scheduled-look", repo.url)

    run_scheduler(settings, once=True)
    with rt.db.reader() as session:
        assert session.scalars(select(Dispatch.subject_id).where(Dispatch.kind == Kind.POLL_SOURCES.value)).all() == [
            "sources"
        ]
    run_jobs()

    assert poll_state(rt).revision == head
    assert executions_of(rt) == 1


def test_a_source_that_cannot_be_read_keeps_its_revision_and_says_why(rt: Runtime, repo: GitRepo) -> None:
    head = repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "fine", repo.url)
    gone = repo.path.parent / "gone"
    polling_pipeline(rt, "broken", gone.as_uri())
    definitions.create_pipeline(rt, as_yaml(_renamed(pipeline("broken-branch", repo.url), "Source", "no-such")))

    assert len(poll_sources(rt)) == 1  # "fine" started; the others could not be read

    with rt.db.reader() as session:
        states = list(session.scalars(select(SourcePoll)))
    errors = sorted(state.error for state in states if state.error)
    assert len(errors) == 2
    assert any(str(gone) in error for error in errors)
    assert any("no-such" in error for error in errors)
    assert [state.revision for state in states if state.revision] == [head]


def test_get_pipeline_shows_what_the_last_look_at_each_polled_source_found(
    rt: Runtime, repo: GitRepo, client: FlaskClient
) -> None:
    head = repo.commit({"buildspec.yml": BUILDSPEC})
    polling_pipeline(rt, "shown", repo.url)
    polling_pipeline(rt, "not-polling", repo.url, poll=None)
    [before] = client.get("/api/v1/pipelines/shown").get_json()["metadata"]["polledSources"]
    assert before == {"actionName": "Source", "revision": None, "changedAt": None, "checkedAt": None, "error": None}

    poll_sources(rt)
    [after] = client.get("/api/v1/pipelines/shown").get_json()["metadata"]["polledSources"]
    assert (after["revision"], after["error"]) == (head, None)
    assert after["checkedAt"] is not None
    assert after["changedAt"] is not None
    assert "polledSources" not in client.get("/api/v1/pipelines/not-polling").get_json()["metadata"]
    (repo.path / ".git").rename(repo.path / "moved")  # the repository can no longer be read
    poll_sources(rt)
    [failed] = client.get("/api/v1/pipelines/shown").get_json()["metadata"]["polledSources"]
    assert failed["revision"] == head
    assert "does not appear to be a git repository" in failed["error"]


def _renamed(document: dict[str, Any], action: str, branch: str) -> dict[str, Any]:
    """A polled pipeline whose source follows a branch that does not exist."""
    [source] = document["pipeline"]["stages"][0]["actions"]
    assert source["name"] == action
    source["configuration"].update({"BranchName": branch, "PollForSourceChanges": "true"})
    document["pipeline"]["stages"][1]["actions"] = [build_action(outputs=())]
    return document


def test_poll_for_source_changes_must_be_true_or_false(rt: Runtime, repo: GitRepo) -> None:
    with pytest.raises(SpecError) as raised:
        polling_pipeline(rt, "odd", repo.url, poll="sometimes")
    assert "PollForSourceChanges" in str(raised.value)
    assert "must be true or false, not 'sometimes'" in str(raised.value)


@pytest.fixture
def s3(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name=AWS_REGION)


def s3_pipeline(rt: Runtime, name: str, bucket: str, **configuration: str) -> None:
    source = {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": bucket, "S3ObjectKey": "app.zip", **configuration},
        "outputArtifacts": [{"name": "SourceOutput"}],
    }
    stages = [{"name": "Source", "actions": [source]}, {"name": "Build", "actions": [build_action(outputs=())]}]
    definitions.create_pipeline(rt, json.dumps({"pipeline": {"name": name, "stages": stages}}))


def test_an_s3_source_polls_unless_told_not_to_and_starts_each_new_version(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="releases")
    s3.put_bucket_versioning(Bucket="releases", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="releases", Key="app.zip", Body=zip_of({"buildspec.yml": BUILDSPEC}))["VersionId"]
    s3_pipeline(rt, "from-s3", "releases")  # PollForSourceChanges omitted: CodePipeline polls an S3 source
    s3_pipeline(rt, "not-polled", "releases", PollForSourceChanges="false")

    [started] = poll_sources(rt)
    run_jobs()
    ran = execution(rt, started)
    assert (ran["pipelineName"], ran["status"]) == ("from-s3", "Succeeded")
    assert ran["sourceRevisions"][0]["revisionId"] == first
    assert poll_sources(rt) == []

    second = s3.put_object(Bucket="releases", Key="app.zip", Body=zip_of({"buildspec.yml": BUILDSPEC, "v": "2"}))
    [again] = poll_sources(rt)
    run_jobs()
    assert execution(rt, again)["sourceRevisions"][0]["revisionId"] == second["VersionId"]
    assert executions_of(rt) == 2  # "not-polled" never started


def test_an_s3_object_in_a_bucket_without_versions_is_compared_by_etag(rt: Runtime, s3: Any) -> None:
    s3.create_bucket(Bucket="plain")
    s3.put_object(Bucket="plain", Key="app.zip", Body=zip_of({"buildspec.yml": BUILDSPEC}))
    s3_pipeline(rt, "plain", "plain")

    assert len(poll_sources(rt)) == 1
    assert poll_sources(rt) == []
    etag = s3.put_object(Bucket="plain", Key="app.zip", Body=zip_of({"v": "2"}))["ETag"].strip('"')
    assert len(poll_sources(rt)) == 1
    assert poll_state(rt).revision == etag


def test_a_missing_s3_object_is_recorded_as_the_reason(rt: Runtime, s3: Any) -> None:
    s3.create_bucket(Bucket="empty")
    s3_pipeline(rt, "waiting", "empty")

    assert poll_sources(rt) == []
    state = poll_state(rt)
    assert state.revision is None
    assert state.error == "s3://empty/app.zip does not exist (no such bucket, or no such object in it)"
