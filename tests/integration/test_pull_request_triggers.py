"""V2 pull-request triggers: signed `pull_request` deliveries over HTTP start pipelines that run the pull request's
head with real SQL, Redis, RQ workers, git and bash."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask.testing import FlaskClient
from git import Repo
from sqlalchemy import select

from conveyor.db.models import PipelineExecution, WebhookDelivery
from conveyor.pipeline import definitions, views
from conveyor.pipeline.actions.git_source import mirrors
from conveyor.runtime import Runtime
from tests.integration.conftest import deliver
from tests.support.github import pull_request_payload
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline

VARIABLES = [
    "CODEBUILD_WEBHOOK_EVENT",
    "CODEBUILD_WEBHOOK_HEAD_REF",
    "CODEBUILD_WEBHOOK_BASE_REF",
    "CODEBUILD_WEBHOOK_TRIGGER",
    "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID",
    "CODEBUILD_WEBHOOK_PREV_COMMIT",
    "CODEBUILD_SOURCE_VERSION",
    "CODEBUILD_RESOLVED_SOURCE_VERSION",
]
ENV_BUILDSPEC = (
    "version: 0.2\nphases:\n  build:\n    commands:\n      - mkdir -p out\n"
    + "".join(f'      - echo "{name}=${{{name}:-unset}}" >> out/env.txt\n' for name in VARIABLES)
    + "artifacts:\n  files: [out/env.txt]\n"
)


def _subscribe(rt: Runtime, repo: GitRepo, *filters: dict[str, Any], name: str = "prs") -> None:
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {"sourceActionName": "Source", "pullRequest": list(filters)},
    }
    definitions.create_pipeline(rt, as_yaml(pipeline(name, repo.url, triggers=[trigger])))


def _open(
    client: FlaskClient,
    repo: GitRepo,
    number: int,
    action: str,
    head_sha: str,
    delivery: str | None = None,
    **fields: Any,
) -> Any:
    """Deliver a signed pull_request event whose base is main's current head."""
    base_sha = repo.head("main")
    payload = pull_request_payload("acme/app", repo.url, number, action, base_sha=base_sha, head_sha=head_sha, **fields)
    return deliver(client, "pull_request", payload, delivery=delivery)


def _env_of(rt: Runtime, execution_id: str) -> dict[str, str]:
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    artifact = execution["stages"][1]["actions"][0]["outputArtifacts"]["BuildOutput"]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(artifact["key"]))) as archive:
        return dict(line.split("=", 1) for line in archive.read("out/env.txt").decode().splitlines())


def _executions(rt: Runtime) -> list[str]:
    with rt.db.reader() as session:
        return list(session.scalars(select(PipelineExecution.id)))


def _delivery(rt: Runtime, delivery_id: str) -> WebhookDelivery:
    with rt.db.reader() as session:
        return session.scalars(select(WebhookDelivery).where(WebhookDelivery.delivery_id == delivery_id)).one()


def test_an_opened_pull_request_runs_its_head_with_codebuilds_pull_request_variables(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": ENV_BUILDSPEC}, "buildspec")
    _subscribe(rt, repo, {"branches": {"includes": ["main"]}})
    head = repo.pull_request(5, {"src/app.py": "print('pr')\n"}, branch="feature", keep_branch=True)

    answer = _open(client, repo, 5, "opened", head, delivery="pr-5-opened", sender="mona")
    assert answer.status_code == 202
    assert answer.get_json()["status"] == "started"
    [execution_id] = answer.get_json()["executionIds"]
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["trigger"]["triggerType"] == "WebhookV2"
    assert execution["trigger"]["triggerDetail"].startswith(
        f"pull request #5 OPEN (opened) from feature into main at {head[:12]} by mona"
    )
    assert execution["sourceRevisions"] == [{"actionName": "Source", "revisionId": head, "ref": "refs/pull/5/head"}]
    source = execution["stages"][0]["actions"][0]
    assert (source["outputVariables"]["CommitId"], source["outputVariables"]["BranchName"]) == (head, "feature")
    sender_id = str(1000 + sum(map(ord, "mona")))
    assert _env_of(rt, execution_id) == {
        "CODEBUILD_WEBHOOK_EVENT": "PULL_REQUEST_CREATED",
        "CODEBUILD_WEBHOOK_HEAD_REF": "refs/heads/feature",
        "CODEBUILD_WEBHOOK_BASE_REF": "refs/heads/main",
        "CODEBUILD_WEBHOOK_TRIGGER": "pr/5",
        "CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID": sender_id,
        "CODEBUILD_WEBHOOK_PREV_COMMIT": "unset",
        "CODEBUILD_SOURCE_VERSION": "pr/5",
        "CODEBUILD_RESOLVED_SOURCE_VERSION": head,
    }
    delivery = _delivery(rt, "pr-5-opened")
    assert (delivery.event, delivery.ref, delivery.head_commit) == ("pull_request", "refs/pull/5/head", head)


def test_new_commits_and_the_merge_each_run_the_new_head(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": ENV_BUILDSPEC}, "buildspec")
    _subscribe(rt, repo, {"branches": {"includes": ["main"]}, "events": ["UPDATED", "CLOSED"]})
    first = repo.pull_request(6, {"a.txt": "1\n"}, branch="feature", keep_branch=True)
    assert _open(client, repo, 6, "opened", first).status_code == 200  # OPEN is not among the filter's events

    repo.branch("feature")
    second = repo.commit({"a.txt": "2\n"}, "more work")
    repo.branch("main")
    updated = _open(client, repo, 6, "synchronize", second)
    merged = _open(client, repo, 6, "closed", second, merged=True)
    assert (updated.status_code, merged.status_code) == (202, 202)
    run_jobs()

    updated_env = _env_of(rt, updated.get_json()["executionIds"][0])
    merged_env = _env_of(rt, merged.get_json()["executionIds"][0])
    assert (updated_env["CODEBUILD_WEBHOOK_EVENT"], merged_env["CODEBUILD_WEBHOOK_EVENT"]) == (
        "PULL_REQUEST_UPDATED",
        "PULL_REQUEST_MERGED",
    )
    assert updated_env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == merged_env["CODEBUILD_RESOLVED_SOURCE_VERSION"] == second


def test_labels_other_base_branches_and_pipelines_without_a_pull_request_trigger_start_nothing(
    client: FlaskClient, rt: Runtime, repo: GitRepo
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo, {"branches": {"includes": ["main", "release/*"], "excludes": ["release/old"]}})
    definitions.create_pipeline(rt, as_yaml(pipeline("push-only", repo.url)))  # default change detection
    head = repo.pull_request(8, {"b.txt": "b\n"}, keep_branch=True)

    labeled = _open(client, repo, 8, "labeled", head)
    to_develop = _open(client, repo, 8, "opened", head, base="develop")
    to_old_release = _open(client, repo, 8, "opened", head, base="release/old")
    for answer in (labeled, to_develop, to_old_release):
        assert answer.status_code == 200
        assert answer.get_json()["status"] == "ignored"
        assert answer.get_json()["executionIds"] == []
    assert labeled.get_json()["detail"] == "pull request action 'labeled' starts nothing"
    assert "into develop" in to_develop.get_json()["detail"]
    assert _executions(rt) == []

    to_release = _open(client, repo, 8, "opened", head, base="release/2.0")
    assert to_release.status_code == 202
    assert _executions(rt) == to_release.get_json()["executionIds"]  # one: the push-only pipeline did not start


def test_a_redelivered_pull_request_starts_nothing(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    _subscribe(rt, repo, {"branches": {"includes": ["main"]}})
    head = repo.pull_request(4, {"c.txt": "c\n"})
    first = _open(client, repo, 4, "reopened", head, delivery="same")
    again = _open(client, repo, 4, "reopened", head, delivery="same")
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.get_json()["status"] == "duplicate"
    assert len(_executions(rt)) == 1


def test_a_malformed_pull_request_delivery_is_400_naming_the_field(client: FlaskClient, repo: GitRepo) -> None:
    payload = pull_request_payload("acme/app", repo.url, 1, "opened", base_sha=repo.head(), head_sha=repo.head())
    del payload["pull_request"]["head"]["sha"]
    answer = deliver(client, "pull_request", payload)
    assert answer.status_code == 400
    assert "pull_request.head.sha" in answer.get_json()["message"]


def test_file_paths_are_read_from_git_from_the_merge_base(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(
        rt, repo, {"branches": {"includes": ["main"]}, "filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]}}
    )
    code = repo.pull_request(10, {"src/app.py": "print(10)\n", "src/NOTES.md": "notes\n"})
    docs = repo.pull_request(11, {"docs/guide.txt": "guide\n", "src/README.md": "readme\n"})
    repo.commit({"src/main_moved_on.py": "x\n"}, "main changes src/ after both branched")

    for number, head in ((10, code), (11, docs)):
        answer = _open(client, repo, number, "opened", head, delivery=f"files-{number}")
        assert answer.status_code == 202
        assert answer.get_json()["status"] == "deferred"
        assert answer.get_json()["executionIds"] == []
    run_jobs()

    started, ignored = _delivery(rt, "files-10"), _delivery(rt, "files-11")
    assert (started.outcome, ignored.outcome) == ("started", "ignored")  # main's own change to src/ does not count
    assert _executions(rt) == started.execution_ids
    with rt.db.reader() as session:
        execution = session.get_one(PipelineExecution, started.execution_ids[0])
        assert (execution.status, execution.source_revisions["Source"]["commit"]) == ("Succeeded", code)


def test_a_forks_head_only_the_pull_request_ref_holds_is_fetched_and_built(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    _subscribe(rt, repo, {"branches": {"includes": ["main"]}})
    head = repo.pull_request(9, {"src/fork.py": "print('fork')\n"}, branch="patch-1")  # the branch is gone

    answer = _open(client, repo, 9, "opened", head, head="patch-1", fork="mona/app")
    assert answer.status_code == 202
    run_jobs()

    execution = views.get_execution(rt, answer.get_json()["executionIds"][0])
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert "from mona/app:patch-1 into main" in execution["trigger"]["triggerDetail"]
    assert execution["stages"][0]["actions"][0]["outputVariables"]["CommitId"] == head
    with Repo(mirrors(rt).path_for(repo.url)) as mirror:
        assert mirror.git.rev_parse("refs/pull/9/head") == head
