"""Two workers finishing parallel actions at the same moment: both results land, none is lost."""

from __future__ import annotations

import threading

from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline


def _execution_with_two_running_builds(rt: Runtime, repo: GitRepo, name: str) -> tuple[str, list[str]]:
    actions = [build_action("Unit", outputs=("UnitOut",)), build_action("Lint", outputs=("LintOut",))]
    definitions.create_pipeline(rt, as_yaml(pipeline(name, repo.url, build_actions=actions)))
    execution_id = pipelines.start_pipeline(rt, name)
    pipelines.advance(rt, execution_id)
    source = views.get_execution(rt, execution_id)["stages"][0]["actions"][0]
    artifact = {"SourceOutput": {"key": "k", "revision": repo.head()}}
    pipelines.complete_action(
        rt, source["actionExecutionId"], ActionOutcome(ActionStatus.SUCCEEDED, output_artifacts=artifact)
    )
    builds = views.get_execution(rt, execution_id)["stages"][1]["actions"]
    assert [b["status"] for b in builds] == ["InProgress", "InProgress"]
    return execution_id, [b["actionExecutionId"] for b in builds]


def test_parallel_completions_are_applied_one_after_the_other(rt: Runtime, repo: GitRepo) -> None:
    for round_ in range(8):
        execution_id, action_ids = _execution_with_two_running_builds(rt, repo, f"race-{round_}")
        barrier = threading.Barrier(len(action_ids))
        errors: list[BaseException] = []

        threads = [threading.Thread(target=_finish, args=(rt, a, barrier, errors)) for a in action_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        execution = views.get_execution(rt, execution_id)
        assert [a["status"] for a in execution["stages"][1]["actions"]] == ["Succeeded", "Succeeded"]
        assert execution["status"] == "Succeeded", f"round {round_}: an update was lost"


def _finish(rt: Runtime, action_id: str, barrier: threading.Barrier, errors: list[Exception]) -> None:
    try:
        barrier.wait()
        pipelines.complete_action(rt, action_id, ActionOutcome(ActionStatus.SUCCEEDED))
    except Exception as exc:  # noqa: BLE001 - reported by the test, on its own thread
        errors.append(exc)


def test_a_second_report_for_the_same_action_changes_nothing(rt: Runtime, repo: GitRepo) -> None:
    execution_id, (unit, lint) = _execution_with_two_running_builds(rt, repo, "twice")
    assert pipelines.complete_action(rt, unit, ActionOutcome(ActionStatus.FAILED, summary="first"))
    assert not pipelines.complete_action(rt, unit, ActionOutcome(ActionStatus.SUCCEEDED, summary="second"))
    assert pipelines.complete_action(rt, lint, ActionOutcome(ActionStatus.SUCCEEDED))
    execution = views.get_execution(rt, execution_id)
    assert execution["stages"][1]["actions"][0]["summary"] == "first"
    assert execution["status"] == "Failed"
