"""V2 push filters on file paths: decided from the payload's commits, or from git by a job when the payload may not
list every changed file; over HTTP, with real SQL, Redis, RQ and git."""

from __future__ import annotations

import shutil
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from conveyor.db.models import Dispatch, PipelineExecution, WebhookDelivery
from conveyor.dispatch import Kind
from conveyor.pipeline import definitions, views
from conveyor.runtime import Runtime
from conveyor.triggers.github import MAX_LISTED_COMMITS, push_payload
from jobs import triggers as trigger_jobs
from tests.integration.conftest import deliver
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline

FILTER = {
    "branches": {"includes": ["main"]},
    "filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]},
}


def _subscribe(rt: Runtime, repo: GitRepo) -> None:
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Source", "push": [FILTER]},
    }
    definitions.create_pipeline(rt, as_yaml(pipeline("paths", repo.url, triggers=[trigger])))


def _delivery(rt: Runtime, delivery_id: str) -> WebhookDelivery:
    with rt.db.reader() as session:
        return session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).one()


def _executions(rt: Runtime) -> list[str]:
    with rt.db.reader() as session:
        return list(session.scalars(select(PipelineExecution.id)))


def test_the_payloads_changed_files_decide_at_once(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    sha = repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo)

    def push(*changed: str) -> Any:
        return deliver(client, "push", push_payload("acme/app", repo.url, sha, changed=list(changed)))

    assert push("docs/guide.txt").status_code == 200  # nothing under src/
    assert push("src/README.md", "docs/notes.md").status_code == 200  # src/ changed, but only excluded files
    started = push("src/README.md", "src/app.py")
    assert started.status_code == 202
    assert started.get_json()["status"] == "started"
    assert _executions(rt) == started.get_json()["executionIds"]
    [execution_id] = started.get_json()["executionIds"]
    assert views.get_execution(rt, execution_id)["trigger"]["triggerType"] == "WebhookV2"  # chosen by the trigger


def _long_push(repo: GitRepo, files: dict[str, str]) -> tuple[str, str, dict[str, Any]]:
    """Push MAX_LISTED_COMMITS + 1 commits; the payload lists the last MAX_LISTED_COMMITS, with no files."""
    before = repo.head()
    shas = [repo.commit({f"notes/{n}.txt": f"{n}\n"}, f"note {n}") for n in range(MAX_LISTED_COMMITS)]
    shas.append(repo.commit(files, "the change that matters"))
    payload = push_payload("acme/app", repo.url, shas[-1], before=before)
    payload["commits"] = [{"id": sha, "message": "…"} for sha in shas[-MAX_LISTED_COMMITS:]]
    return before, shas[-1], payload


def test_a_long_push_is_decided_from_git_by_a_job(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo)
    _before, after, payload = _long_push(repo, {"src/app.py": "print('hi')\n"})

    answer = deliver(client, "push", payload, delivery="long-1")
    assert answer.status_code == 202
    assert answer.get_json()["status"] == "deferred"
    assert answer.get_json()["executionIds"] == []
    assert _delivery(rt, "long-1").outcome == "deferred"
    assert _delivery(rt, "long-1").detail == answer.get_json()["detail"]

    run_jobs()
    delivery = _delivery(rt, "long-1")
    assert delivery.outcome == "started"
    assert delivery.detail == f"{MAX_LISTED_COMMITS + 1} changed file(s) read from git"
    assert _executions(rt) == delivery.execution_ids
    with rt.db.reader() as session:
        execution = session.get_one(PipelineExecution, delivery.execution_ids[0])
        assert execution.source_revisions["Source"]["commit"] == after
        assert execution.status == "Succeeded"


def test_a_long_push_that_changes_nothing_filtered_starts_nothing(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo)
    *_, payload = _long_push(repo, {"src/CHANGES.md": "excluded\n"})

    assert deliver(client, "push", payload, delivery="long-2").get_json()["status"] == "deferred"
    run_jobs()
    assert _delivery(rt, "long-2").outcome == "ignored"
    assert (
        _delivery(rt, "long-2").detail
        == f"{MAX_LISTED_COMMITS + 1} changed file(s) read from git: no file path filter matched them"
    )
    assert _executions(rt) == []
    assert deliver(client, "push", payload, delivery="long-2").status_code == 200  # a redelivery starts nothing


def test_a_long_push_whose_repository_cannot_be_read_fails_with_the_reason(
    client: FlaskClient, rt: Runtime, repo: GitRepo
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo)
    *_, payload = _long_push(repo, {"src/app.py": "print('hi')\n"})
    assert deliver(client, "push", payload, delivery="long-3").get_json()["status"] == "deferred"
    shutil.rmtree(repo.path)  # gone before the job reads the changed files

    with rt.db.reader() as session:
        [dispatch] = session.scalars(select(Dispatch).where(Dispatch.kind == Kind.CHANGED_FILES.value))
    for attempt in range(1, rt.settings.max_attempts + 1):
        trigger_jobs.changed_files(dispatch.id, attempt)

    delivery = _delivery(rt, "long-3")
    assert (delivery.outcome, delivery.execution_ids) == ("failed", [])
    assert (delivery.detail or "").startswith("could not read the changed files: ")
    assert str(repo.path) in (delivery.detail or "")
    assert _executions(rt) == []
