"""The pure pipeline engine: `record` and `advance` (`conveyor.pipeline.engine`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.pipeline.engine import (
    ActionResult,
    ExecutionState,
    RetryRefused,
    StartAction,
    Transition,
    advance,
    entering,
    record,
    record_condition,
    retry,
    stop,
)
from conveyor.pipeline.spec import PipelineDefinition, from_document, parse_pipeline
from conveyor.pipeline.status import ActionStatus, ConditionStatus, ExecutionStatus, StageStatus

SOURCE_TYPE = {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"}
BUILD_TYPE = {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}
SUCCEEDED, FAILED, ABANDONED, IN_PROGRESS = (
    ActionStatus.SUCCEEDED,
    ActionStatus.FAILED,
    ActionStatus.ABANDONED,
    ActionStatus.IN_PROGRESS,
)


def source_action(name: str, run_order: int = 1) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": SOURCE_TYPE,
        "runOrder": run_order,
        "configuration": {"FullRepositoryId": "acme/app", "BranchName": "main"},
        "outputArtifacts": [{"name": f"{name}Output"}],
    }


def build_action(name: str, run_order: int = 1, source: str = "Checkout") -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": BUILD_TYPE,
        "runOrder": run_order,
        "configuration": {"ProjectName": name},
        "inputArtifacts": [{"name": f"{source}Output"}],
    }


def definition(*stages: tuple[str, list[dict[str, Any]]]) -> PipelineDefinition:
    """A definition from its pipeline object, validated as a user's file would be."""
    document = {"name": "demo", "stages": [{"name": name, "actions": actions} for name, actions in stages]}
    return parse_pipeline(json.dumps(document))


def linear() -> PipelineDefinition:
    return definition(
        ("Source", [source_action("Checkout")]),
        ("Build", [build_action("Compile")]),
        ("Deploy", [build_action("Ship")]),
    )


def starts(transition: Transition) -> set[tuple[str, str]]:
    return {(s.stage, s.action) for s in transition.start}


def finish(
    pipeline: PipelineDefinition, state: ExecutionState, stage: str, action: str, status: ActionStatus
) -> Transition:
    return advance(pipeline, record(state, ActionResult(stage, action, status)))


# --- examples --------------------------------------------------------------------------------------------------


def test_a_new_execution_starts_the_source_stage() -> None:
    first = advance(linear(), ExecutionState())
    assert first.start == (StartAction("Source", "Checkout"),)
    assert first.state.status is ExecutionStatus.IN_PROGRESS
    assert first.state.stages == {"Source": StageStatus.IN_PROGRESS}
    assert first.state.actions == {("Source", "Checkout"): IN_PROGRESS}


def test_a_linear_pipeline_succeeds_stage_by_stage() -> None:
    pipeline = linear()
    step = advance(pipeline, ExecutionState())
    step = finish(pipeline, step.state, "Source", "Checkout", SUCCEEDED)
    assert starts(step) == {("Build", "Compile")}
    assert step.state.stages == {"Source": StageStatus.SUCCEEDED, "Build": StageStatus.IN_PROGRESS}
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    assert starts(step) == {("Deploy", "Ship")}
    step = finish(pipeline, step.state, "Deploy", "Ship", SUCCEEDED)
    assert step.start == ()
    assert step.state.status is ExecutionStatus.SUCCEEDED
    assert set(step.state.stages.values()) == {StageStatus.SUCCEEDED}
    assert set(step.state.actions.values()) == {SUCCEEDED}
    assert step.state.summary is None


def run_order_pipeline() -> PipelineDefinition:
    return definition(
        ("Source", [source_action("Checkout")]),
        (
            "Build",
            [
                build_action("Package", run_order=7),
                build_action("Lint", run_order=2),
                build_action("Unit", run_order=2),
                build_action("Compile", run_order=1),
            ],
        ),
    )


def test_run_order_groups_start_in_ascending_order_and_together() -> None:
    pipeline = run_order_pipeline()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    assert starts(step) == {("Build", "Compile")}
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    assert starts(step) == {("Build", "Lint"), ("Build", "Unit")}
    step = finish(pipeline, step.state, "Build", "Unit", SUCCEEDED)
    assert step.start == ()
    step = finish(pipeline, step.state, "Build", "Lint", SUCCEEDED)
    assert starts(step) == {("Build", "Package")}
    step = finish(pipeline, step.state, "Build", "Package", SUCCEEDED)
    assert step.state.status is ExecutionStatus.SUCCEEDED


def test_a_failed_action_lets_running_siblings_finish_then_fails_stage_and_execution() -> None:
    pipeline = run_order_pipeline()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Lint", FAILED)
    assert step.start == ()
    assert step.state.status is ExecutionStatus.IN_PROGRESS
    assert step.state.stages["Build"] is StageStatus.IN_PROGRESS
    assert step.state.actions[("Build", "Unit")] is IN_PROGRESS
    step = finish(pipeline, step.state, "Build", "Unit", SUCCEEDED)
    assert step.start == ()
    assert step.state.status is ExecutionStatus.FAILED
    assert step.state.stages["Build"] is StageStatus.FAILED
    assert ("Build", "Package") not in step.state.actions
    assert step.state.summary == "Stage Build failed: action Lint did not succeed"


def test_an_abandoned_action_fails_the_stage() -> None:
    pipeline = linear()
    step = advance(pipeline, ExecutionState())
    step = finish(pipeline, step.state, "Source", "Checkout", ABANDONED)
    assert step.state.status is ExecutionStatus.FAILED
    assert step.state.stages == {"Source": StageStatus.FAILED}


def test_later_stages_never_start_after_a_failure() -> None:
    pipeline = linear()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", FAILED)
    assert step.start == ()
    assert step.state.status is ExecutionStatus.FAILED
    assert "Deploy" not in step.state.stages
    assert ("Deploy", "Ship") not in step.state.actions
    late = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    assert late == Transition(step.state)


def test_record_ignores_a_result_for_an_action_not_in_progress() -> None:
    pipeline = linear()
    state = advance(pipeline, ExecutionState()).state
    never_started = ActionResult("Build", "Compile", SUCCEEDED)
    unknown = ActionResult("Nowhere", "Nothing", FAILED)
    assert record(state, never_started) is state
    assert record(state, unknown) is state
    done = record(state, ActionResult("Source", "Checkout", SUCCEEDED))
    assert done.actions[("Source", "Checkout")] is SUCCEEDED
    assert record(done, ActionResult("Source", "Checkout", FAILED)) is done


def test_record_ignores_a_result_that_is_not_final() -> None:
    state = advance(linear(), ExecutionState()).state
    assert record(state, ActionResult("Source", "Checkout", IN_PROGRESS)) is state


def test_advance_is_idempotent() -> None:
    pipeline = run_order_pipeline()
    first = advance(pipeline, ExecutionState())
    again = advance(pipeline, first.state)
    assert again.start == ()
    assert again.state == first.state
    step = finish(pipeline, first.state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    assert advance(pipeline, step.state) == Transition(step.state)


def test_a_final_state_is_never_changed() -> None:
    pipeline = linear()
    for status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.STOPPED):
        final = ExecutionState(status)
        assert advance(pipeline, final) == Transition(final)


# --- properties ------------------------------------------------------------------------------------------------

RUN_ORDERS = st.sampled_from([1, 1, 2, 3, 10])


@st.composite
def definitions(draw: st.DrawFn) -> PipelineDefinition:
    """A valid definition: 2-5 stages of 1-4 actions with random runOrders, the first stage all sources."""
    stage_count = draw(st.integers(2, 5))
    stages = []
    for s_index in range(stage_count):
        size = draw(st.integers(1, 4))
        orders = [draw(RUN_ORDERS) for _ in range(size)]
        if s_index == 0:
            actions = [source_action(f"Src{a}", order) for a, order in enumerate(orders)]
        else:
            actions = [build_action(f"S{s_index}A{a}", order, source="Src0") for a, order in enumerate(orders)]
        stages.append({"name": f"Stage{s_index}", "actions": actions})
    document = {"name": "generated", "pipelineType": "V1", "executionMode": "SUPERSEDED", "stages": stages}
    generated = from_document(document)
    assert parse_pipeline(json.dumps(document)) == generated, "the generator must build valid pipelines"
    return generated


def _order(pipeline: PipelineDefinition, key: tuple[str, str]) -> int:
    return pipeline.stage(key[0]).action(key[1]).run_order


def check_transition(pipeline: PipelineDefinition, before: ExecutionState, after: Transition) -> None:
    """Everything a single `advance` must respect."""
    started = [(s.stage, s.action) for s in after.start]
    state = after.state
    assert len(started) == len(set(started)), "an action started twice in one transition"
    stage_names = [s.name for s in pipeline.stages]
    for key in started:
        assert key not in before.actions, f"{key} started again"
        assert state.actions[key] is IN_PROGRESS
        stage = pipeline.stage(key[0])
        for earlier in stage_names[: stage_names.index(key[0])]:
            assert state.stages.get(earlier) is StageStatus.SUCCEEDED, f"{key} started before {earlier} succeeded"
        for sibling in stage.actions:
            if sibling.run_order < _order(pipeline, key):
                assert state.actions.get((stage.name, sibling.name)) is SUCCEEDED
            if sibling.run_order == _order(pipeline, key):  # a retry of failed actions leaves succeeded ones be
                together = (stage.name, sibling.name) in started or before.actions.get((stage.name, sibling.name))
                assert together, "a runOrder group did not start together"
    for name, status in state.stages.items():
        if status is StageStatus.SUCCEEDED:
            assert all(state.actions.get((name, a.name)) is SUCCEEDED for a in pipeline.stage(name).actions)
    running = {key for key, status in state.actions.items() if status is IN_PROGRESS}
    assert len({(key[0], _order(pipeline, key)) for key in running}) <= 1, "two groups run at once"
    assert advance(pipeline, state) == Transition(state), "advance is not idempotent"


@settings(max_examples=200, deadline=None)
@given(pipeline=definitions(), data=st.data())
def test_random_executions_respect_every_rule(pipeline: PipelineDefinition, data: st.DataObject) -> None:
    total = sum(len(s.actions) for s in pipeline.stages)
    transition = advance(pipeline, ExecutionState())
    check_transition(pipeline, ExecutionState(), transition)
    state = transition.state
    for _ in range(total):
        if state.status.final:
            break
        running = sorted(key for key, status in state.actions.items() if status is IN_PROGRESS)
        assert running, "an execution in progress must have an action running"
        stage, action = data.draw(st.sampled_from(running))
        outcome = data.draw(st.sampled_from([SUCCEEDED, SUCCEEDED, SUCCEEDED, FAILED, ABANDONED]))
        noise = ActionResult(stage, action, IN_PROGRESS)
        assert record(state, noise) is state
        recorded = record(state, ActionResult(stage, action, outcome))
        transition = advance(pipeline, recorded)
        check_transition(pipeline, recorded, transition)
        assert record(transition.state, ActionResult(stage, action, SUCCEEDED)) is transition.state
        state = transition.state
    assert state.status.final, "the execution did not end after every action finished"
    every_action = [(s.name, a.name) for s in pipeline.stages for a in s.actions]
    all_succeeded = all(state.actions.get(key) is SUCCEEDED for key in every_action)
    assert state.status is (ExecutionStatus.SUCCEEDED if all_succeeded else ExecutionStatus.FAILED)
    assert IN_PROGRESS not in state.actions.values()
    assert advance(pipeline, state) == Transition(state)
    if state.status is ExecutionStatus.FAILED:
        failed_stages = [name for name, status in state.stages.items() if status is StageStatus.FAILED]
        assert len(failed_stages) == 1
        later = [s.name for s in pipeline.stages][[s.name for s in pipeline.stages].index(failed_stages[0]) + 1 :]
        assert not any(key[0] in later for key in state.actions), "a stage after the failure started"


# --- gates, stop, retry ------------------------------------------------------------------------------------------


def test_a_blocked_stage_is_not_entered_and_the_execution_waits_in_front_of_it() -> None:
    pipeline = linear()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    assert entering(pipeline, step.state) is None  # Build was entered by that same advance
    before = record(advance(pipeline, ExecutionState()).state, ActionResult("Source", "Checkout", SUCCEEDED))
    assert entering(pipeline, before) == "Build"
    waiting = advance(pipeline, before, frozenset({"Build"}))
    assert waiting.start == ()
    assert waiting.state.waiting == "Build"
    assert waiting.state.stages == {"Source": StageStatus.SUCCEEDED}
    assert advance(pipeline, waiting.state, frozenset({"Build"})) == waiting
    entered = advance(pipeline, waiting.state)
    assert starts(entered) == {("Build", "Compile")}
    assert entered.state.waiting is None


def test_stop_and_wait_lets_running_actions_finish_then_stops() -> None:
    pipeline = run_order_pipeline()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    stopping = stop(step.state, abandon=False, reason="Stopped")
    assert stopping.status is ExecutionStatus.STOPPING
    assert stopping.stages["Build"] is StageStatus.STOPPING
    assert advance(pipeline, stopping) == Transition(stopping)  # Lint and Unit still run; nothing new starts
    one = advance(pipeline, record(stopping, ActionResult("Build", "Lint", SUCCEEDED))).state
    assert one.status is ExecutionStatus.STOPPING
    done = finish(pipeline, one, "Build", "Unit", SUCCEEDED)
    assert done.start == ()
    assert done.state.status is ExecutionStatus.STOPPED
    assert done.state.stages["Build"] is StageStatus.STOPPED
    assert ("Build", "Package") not in done.state.actions
    assert stop(done.state, abandon=True, reason="again") is done.state


def test_abandon_ends_running_actions_at_once_and_works_on_a_stopping_execution() -> None:
    pipeline = run_order_pipeline()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    stopping = stop(step.state, abandon=False, reason="wait")
    assert stop(stopping, abandon=False, reason="wait again") is stopping
    abandoned = advance(pipeline, stop(stopping, abandon=True, reason="now")).state
    assert abandoned.status is ExecutionStatus.STOPPED
    assert abandoned.actions[("Build", "Lint")] is ABANDONED
    assert abandoned.actions[("Build", "Unit")] is ABANDONED
    assert abandoned.summary == "now"


def test_retry_of_failed_actions_runs_only_those_and_all_actions_starts_from_the_first_group() -> None:
    pipeline = run_order_pipeline()
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Compile", SUCCEEDED)
    step = finish(pipeline, step.state, "Build", "Lint", FAILED)
    failed = finish(pipeline, step.state, "Build", "Unit", SUCCEEDED).state
    assert failed.status is ExecutionStatus.FAILED

    only_failed = advance(pipeline, retry(pipeline, failed, "Build", "FAILED_ACTIONS"))
    assert starts(only_failed) == {("Build", "Lint")}
    assert only_failed.state.status is ExecutionStatus.IN_PROGRESS
    assert only_failed.state.actions[("Build", "Unit")] is SUCCEEDED

    everything = advance(pipeline, retry(pipeline, failed, "Build", "ALL_ACTIONS"))
    assert starts(everything) == {("Build", "Compile")}
    assert ("Build", "Unit") not in everything.state.actions

    for stage, mode, message in (
        ("Source", "FAILED_ACTIONS", "stage Source is Succeeded"),
        ("Nowhere", "FAILED_ACTIONS", "no stage 'Nowhere'"),
        ("Build", "SOME", "retry mode must be"),
    ):
        with pytest.raises(RetryRefused, match=message):
            retry(pipeline, failed, stage, mode)
    with pytest.raises(RetryRefused, match="the execution is InProgress"):
        retry(pipeline, only_failed.state, "Build", "FAILED_ACTIONS")


def _with_on_failure(on_failure: dict[str, Any]) -> PipelineDefinition:
    document = {
        "name": "demo",
        "pipelineType": "V2",
        "stages": [
            {"name": "Source", "actions": [source_action("Checkout")]},
            {"name": "Build", "actions": [build_action("Compile")], "onFailure": on_failure},
        ],
    }
    return parse_pipeline(json.dumps(document))


def test_on_failure_retry_is_automatic_once() -> None:
    pipeline = _with_on_failure({"result": "RETRY", "retryConfiguration": {"retryMode": "ALL_ACTIONS"}})
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    again = finish(pipeline, step.state, "Build", "Compile", FAILED)
    assert starts(again) == {("Build", "Compile")}
    assert again.state.auto_retries == {"Build": 1}
    assert again.state.status is ExecutionStatus.IN_PROGRESS
    final = finish(pipeline, again.state, "Build", "Compile", FAILED)
    assert final.start == ()
    assert final.state.status is ExecutionStatus.FAILED
    assert final.rollback is None


def test_on_failure_rollback_is_asked_for_when_the_stage_fails() -> None:
    pipeline = _with_on_failure({"result": "ROLLBACK"})
    step = finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)
    failed = finish(pipeline, step.state, "Build", "Compile", FAILED)
    assert failed.state.status is ExecutionStatus.FAILED
    assert failed.rollback == "Build"
    assert advance(pipeline, failed.state).rollback is None  # asked once, by the transition that failed it


@settings(max_examples=150, deadline=None)
@given(pipeline=definitions(), data=st.data())
def test_random_stops_and_retries_keep_every_rule(pipeline: PipelineDefinition, data: st.DataObject) -> None:
    """Actions finish, executions stop (waiting or abandoning) and failed stages are retried, in any order."""
    state = advance(pipeline, ExecutionState()).state
    for _ in range(60):
        if state.status in (ExecutionStatus.FAILED, ExecutionStatus.STOPPED):
            broken = [n for n, s in state.stages.items() if s in (StageStatus.FAILED, StageStatus.STOPPED)]
            unsuccessful = [k for k, s in state.actions.items() if s in (FAILED, ABANDONED) and k[0] in broken]
            if not unsuccessful or not data.draw(st.booleans()):
                break
            mode = data.draw(st.sampled_from(["FAILED_ACTIONS", "ALL_ACTIONS"]))
            before = retry(pipeline, state, unsuccessful[0][0], mode)
            assert before.status is ExecutionStatus.IN_PROGRESS
        elif state.status.final:
            break
        elif data.draw(st.integers(0, 9)) == 0:
            before = stop(state, abandon=data.draw(st.booleans()), reason="stop")
        else:
            running = sorted(key for key, status in state.actions.items() if status is IN_PROGRESS)
            assert running, "an execution in progress or stopping must have an action running"
            stage, action = data.draw(st.sampled_from(running))
            before = record(state, ActionResult(stage, action, data.draw(st.sampled_from([SUCCEEDED, FAILED]))))
        transition = advance(pipeline, before)
        if before.status is ExecutionStatus.STOPPING:
            assert transition.start == (), "an action started while the execution was stopping"
        check_transition(pipeline, before, transition)
        state = transition.state
        if state.status is ExecutionStatus.STOPPED:
            assert IN_PROGRESS not in state.actions.values()
            assert StageStatus.STOPPING not in state.stages.values()


# --- stage conditions --------------------------------------------------------------------------------------------

ALWAYS = {
    "name": "Window",
    "ruleTypeId": {"category": "Rule", "provider": "DeploymentWindow"},
    "configuration": {"Cron": "* * * ? * *"},
}


def _with_conditions(**conditions: dict[str, Any]) -> PipelineDefinition:
    document = {
        "name": "demo",
        "pipelineType": "V2",
        "stages": [
            {"name": "Source", "actions": [source_action("Checkout")]},
            {"name": "Build", "actions": [build_action("Compile")], **conditions},
            {"name": "Deploy", "actions": [build_action("Ship")]},
        ],
    }
    return parse_pipeline(json.dumps(document))


def _condition(result: str) -> dict[str, Any]:
    return {"conditions": [{"result": result, "rules": [ALWAYS]}]}


def _at_build(pipeline: PipelineDefinition) -> Transition:
    return finish(pipeline, advance(pipeline, ExecutionState()).state, "Source", "Checkout", SUCCEEDED)


def test_a_before_entry_condition_is_checked_before_the_first_action_starts() -> None:
    pipeline = _with_conditions(beforeEntry=_condition("FAIL"))
    step = _at_build(pipeline)
    assert step.check == (("Build", "beforeEntry"),)
    assert step.start == ()
    assert step.state.stages["Build"] is StageStatus.IN_PROGRESS
    assert advance(pipeline, step.state) == Transition(step.state)  # checked once
    passed = advance(pipeline, record_condition(step.state, "Build", "beforeEntry", ConditionStatus.SUCCEEDED))
    assert starts(passed) == {("Build", "Compile")}
    again = record_condition(passed.state, "Build", "beforeEntry", ConditionStatus.FAILED)
    assert again is passed.state  # a late result changes nothing


def test_a_failed_before_entry_condition_fails_or_skips_the_stage() -> None:
    failing = _with_conditions(beforeEntry=_condition("FAIL"))
    step = _at_build(failing)
    failed = advance(failing, record_condition(step.state, "Build", "beforeEntry", ConditionStatus.FAILED))
    assert failed.state.status is ExecutionStatus.FAILED
    assert failed.state.summary == "Stage Build failed: its beforeEntry condition failed"
    assert ("Build", "Compile") not in failed.state.actions

    skipping = _with_conditions(beforeEntry=_condition("SKIP"))
    step = _at_build(skipping)
    skipped = advance(skipping, record_condition(step.state, "Build", "beforeEntry", ConditionStatus.FAILED))
    assert skipped.state.stages["Build"] is StageStatus.SKIPPED
    assert starts(skipped) == {("Deploy", "Ship")}


def test_an_on_success_condition_decides_after_every_action_succeeded() -> None:
    pipeline = _with_conditions(onSuccess=_condition("ROLLBACK"))
    step = finish(pipeline, _at_build(pipeline).state, "Build", "Compile", SUCCEEDED)
    assert step.check == (("Build", "onSuccess"),)
    assert step.state.stages["Build"] is StageStatus.IN_PROGRESS
    good = advance(pipeline, record_condition(step.state, "Build", "onSuccess", ConditionStatus.SUCCEEDED))
    assert starts(good) == {("Deploy", "Ship")}
    bad = advance(pipeline, record_condition(step.state, "Build", "onSuccess", ConditionStatus.FAILED))
    assert bad.state.status is ExecutionStatus.FAILED
    assert bad.rollback == "Build"
    retried = advance(pipeline, retry(pipeline, bad.state, "Build", "ALL_ACTIONS"))
    assert starts(retried) == {("Build", "Compile")}
    assert ("Build", "onSuccess") not in retried.state.conditions  # checked again after the retry


def test_stopping_cancels_a_condition_being_checked() -> None:
    pipeline = _with_conditions(beforeEntry=_condition("FAIL"))
    stopped = advance(pipeline, stop(_at_build(pipeline).state, abandon=False, reason="stop"))
    assert stopped.state.status is ExecutionStatus.STOPPED
    assert stopped.state.conditions[("Build", "beforeEntry")] is ConditionStatus.CANCELLED
