"""A git source that polls for changes, on the Procfile's real processes: the scheduler queues a look every
`poll_interval`, a worker reads the repository and starts the pipeline, and the workers build each new commit — no
webhook involved."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningStack
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import build_action, pipeline, source_action

pytestmark = pytest.mark.e2e

BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built $CODEBUILD_RESOLVED_SOURCE_VERSION\n"


@pytest.fixture
def extra_environment() -> dict[str, str]:
    return {"CONVEYOR_POLL_INTERVAL": "0.5"}


def _finished_with(commit: str) -> Any:
    def done(body: dict[str, Any]) -> bool:
        return any(
            e["trigger"]["triggerType"] == "PollForSourceChanges"
            and e["status"] == "Succeeded"
            and e["sourceRevisions"][0]["revisionId"] == commit
            for e in body["executions"]
        )

    return done


def test_the_scheduler_and_workers_build_each_commit_of_a_polled_repository(
    conveyor_stack: RunningStack, repo: GitRepo
) -> None:
    stack = conveyor_stack
    first = repo.commit({"buildspec.yml": BUILDSPEC})
    document = pipeline("polled", repo.url, build_actions=[build_action(outputs=())])
    document["pipeline"]["stages"][0]["actions"] = [source_action(repo.url, PollForSourceChanges="true")]
    assert stack.api("POST", "/pipelines", json=document).status_code == 201

    stack.wait_for("/executions?pipeline=polled", _finished_with(first))
    second = repo.commit({"README": "next"})
    body = stack.wait_for("/executions?pipeline=polled", _finished_with(second))

    assert len(body["executions"]) == 2  # one for each commit, however many looks ran meanwhile
    build_log = stack.api("GET", "/builds").json()["builds"][0]["id"]
    assert f"built {second}" in stack.api("GET", f"/builds/{build_log}/logs").text
