"""The pipeline engine: pure transitions of one execution, no I/O.

Contract
--------
State is what the database holds for an execution: its status, the status of every stage entered and of every
current action attempt, the stage it waits to enter, and the automatic retries it used. Functions move it:

* `record(state, result)` applies one finished action (an event). A result for an action that is not in progress
  is ignored, so a duplicate or late report can never finish an action twice.
* `advance(definition, state, blocked)` returns the new state and the actions to start. It is idempotent: called
  again on its own output it starts nothing new. A stage named in `blocked` (locked by another execution, or its
  inbound transition disabled) is not entered: the execution waits in front of it (`waiting`).
* `stop(state, abandon)` asks the execution to stop: nothing new starts; with `abandon`, the actions in progress
  are abandoned, otherwise they finish first.
* `retry(definition, state, stage, mode)` makes a failed or stopped stage run again (RetryStageExecution).
* `record_condition(state, stage, kind, status)` applies the result of a stage condition's rules (an event).

Rules (CodePipeline's, §3.1 and §3.5 of the AWS semantics):

* stages run in order; a stage is entered only after the one before it succeeded;
* in a stage, actions with the same runOrder run in parallel, groups run in ascending runOrder;
* a group starts only when every action of the lower groups succeeded;
* when an action fails, its running siblings finish, no later group starts, and the stage fails once nothing in
  it is running; then the stage's `onFailure` applies: RETRY runs it again once (automatic retry), ROLLBACK asks
  for a rollback of the stage, and otherwise the execution fails;
* a stage with a `beforeEntry` condition checks it (a command to the caller) before its first action starts; a
  failed check fails the stage (result FAIL) or skips it (SKIP). A stage with an `onSuccess` condition checks it
  once every action succeeded; a failed check fails the stage (FAIL) or fails it and asks for a rollback (ROLLBACK);
* the execution succeeds when every stage succeeded;
* a final state is final: nothing changes it, except a retry of a failed or stopped stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from conveyor.pipeline.spec import PipelineDefinition, StageDeclaration
from conveyor.pipeline.status import ActionStatus, ConditionStatus, ExecutionStatus, StageStatus

ActionKey = tuple[str, str]  # (stage name, action name)
ConditionKey = tuple[str, str]  # (stage name, "beforeEntry" | "onSuccess")
RETRY_MODES = ("FAILED_ACTIONS", "ALL_ACTIONS")
BEFORE_ENTRY, ON_SUCCESS = "beforeEntry", "onSuccess"


@dataclass(frozen=True)
class ExecutionState:
    status: ExecutionStatus = ExecutionStatus.IN_PROGRESS
    stages: Mapping[str, StageStatus] = field(default_factory=dict)
    actions: Mapping[ActionKey, ActionStatus] = field(default_factory=dict)
    summary: str | None = None
    waiting: str | None = None  # the stage this execution waits to enter
    auto_retries: Mapping[str, int] = field(default_factory=dict)  # automatic retries used, by stage
    conditions: Mapping[ConditionKey, ConditionStatus] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    stage: str
    action: str
    status: ActionStatus


@dataclass(frozen=True)
class StartAction:
    stage: str
    action: str


@dataclass(frozen=True)
class Transition:
    state: ExecutionState
    start: tuple[StartAction, ...] = ()
    rollback: str | None = None  # a stage whose onFailure (or failed onSuccess condition) asks for a rollback
    check: tuple[ConditionKey, ...] = ()  # stage conditions whose rules must run now


class RetryRefused(ValueError):
    """A RetryStageExecution whose preconditions do not hold; the message says which."""


def record(state: ExecutionState, result: ActionResult) -> ExecutionState:
    """Apply a finished action; ignored unless that action is in progress and the result is final."""
    key = (result.stage, result.action)
    if state.actions.get(key) is not ActionStatus.IN_PROGRESS or not result.status.final:
        return state
    return replace(state, actions={**state.actions, key: result.status})


def record_condition(state: ExecutionState, stage: str, kind: str, status: ConditionStatus) -> ExecutionState:
    """Apply a condition's result; ignored unless that condition is being checked."""
    key = (stage, kind)
    if state.conditions.get(key) is not ConditionStatus.IN_PROGRESS or status is ConditionStatus.IN_PROGRESS:
        return state
    return replace(state, conditions={**state.conditions, key: status})


def entering(definition: PipelineDefinition, state: ExecutionState) -> str | None:
    """The stage an `advance` would enter now, if any: the gate the caller must check first."""
    transition = advance(definition, state)
    new = [name for name, status in transition.state.stages.items() if name not in state.stages]
    return new[0] if new else None


def advance(definition: PipelineDefinition, state: ExecutionState, blocked: frozenset[str] = frozenset()) -> Transition:
    """Settle the execution: finish what is finished and start what may start."""
    if state.status.final:
        return Transition(state)
    if state.status is ExecutionStatus.STOPPING:
        return Transition(_settle_stop(state))
    run = _Run(dict(state.stages), dict(state.actions), dict(state.auto_retries), dict(state.conditions))
    for stage in definition.stages:
        if run.stages.get(stage.name) in (StageStatus.SUCCEEDED, StageStatus.SKIPPED):
            continue
        if stage.name not in run.stages and stage.name in blocked:
            return run.transition(replace(state, waiting=stage.name))
        run.stages[stage.name] = StageStatus.IN_PROGRESS
        held = _settle_stage(stage, run, replace(state, waiting=None))
        if held is not None:
            return held
    done = replace(state, status=ExecutionStatus.SUCCEEDED, summary=None, waiting=None)
    return run.transition(done)


def _settle_stage(stage: StageDeclaration, run: _Run, state: ExecutionState) -> Transition | None:
    """Move one entered stage on; a transition when the execution stops here, None when the next stage may go."""
    entry = run.gate(stage, BEFORE_ENTRY)
    if entry is None:
        return run.transition(state)
    if entry is ConditionStatus.FAILED:
        condition = stage.rules.before_entry
        if condition is not None and condition.result == "SKIP":
            run.stages[stage.name] = StageStatus.SKIPPED
            return None
        return run.fail(state, stage, f"Stage {stage.name} failed: its beforeEntry condition failed", False)
    outcome, failed = _progress_stage(stage, run.actions, run.starts)
    if outcome is StageStatus.FAILED and _retries_automatically(stage, run.retries):
        run.retries[stage.name] = run.retries.get(stage.name, 0) + 1
        _clear_for_retry(stage, run.actions, stage.rules.on_failure.retry_mode if stage.rules.on_failure else "")
        outcome, failed = _progress_stage(stage, run.actions, run.starts)
    if outcome is None:
        return run.transition(state)
    if outcome is StageStatus.FAILED:
        rule = stage.rules.on_failure
        summary = f"Stage {stage.name} failed: action {failed} did not succeed"
        return run.fail(state, stage, summary, rule is not None and rule.result == "ROLLBACK")
    success = run.gate(stage, ON_SUCCESS)
    if success is None:
        return run.transition(state)
    if success is ConditionStatus.FAILED:
        condition = stage.rules.on_success
        summary = f"Stage {stage.name} failed: its onSuccess condition failed"
        return run.fail(state, stage, summary, condition is not None and condition.result == "ROLLBACK")
    run.stages[stage.name] = StageStatus.SUCCEEDED
    return None


@dataclass
class _Run:
    """What one `advance` changes, and the commands it gives."""

    stages: dict[str, StageStatus]
    actions: dict[ActionKey, ActionStatus]
    retries: dict[str, int]
    conditions: dict[ConditionKey, ConditionStatus]
    starts: list[StartAction] = field(default_factory=list)
    checks: list[ConditionKey] = field(default_factory=list)

    def gate(self, stage: StageDeclaration, kind: str) -> ConditionStatus | None:
        """The outcome of the stage's `kind` condition: SUCCEEDED when it passed (or there is none), FAILED, or None
        while its rules run (starting them if they were not started)."""
        condition = stage.rules.before_entry if kind == BEFORE_ENTRY else stage.rules.on_success
        if condition is None:
            return ConditionStatus.SUCCEEDED
        key = (stage.name, kind)
        status = self.conditions.get(key)
        if status is None:
            self.conditions[key] = ConditionStatus.IN_PROGRESS
            self.checks.append(key)
            return None
        if status is ConditionStatus.IN_PROGRESS:
            return None
        return ConditionStatus.FAILED if status is ConditionStatus.FAILED else ConditionStatus.SUCCEEDED

    def fail(self, state: ExecutionState, stage: StageDeclaration, summary: str, rollback: bool) -> Transition:
        self.stages[stage.name] = StageStatus.FAILED
        failed = replace(state, status=ExecutionStatus.FAILED, summary=summary, waiting=None)
        return self.transition(failed, stage.name if rollback else None)

    def transition(self, state: ExecutionState, rollback: str | None = None) -> Transition:
        settled = replace(
            state, stages=self.stages, actions=self.actions, auto_retries=self.retries, conditions=self.conditions
        )
        return Transition(settled, tuple(self.starts), rollback, tuple(self.checks))


def stop(
    state: ExecutionState, abandon: bool, reason: str, also_abandon: frozenset[ActionKey] = frozenset()
) -> ExecutionState:
    """StopPipelineExecution: the execution is Stopping until nothing runs; `abandon` abandons what runs now.

    `also_abandon` names in-progress actions abandoned even when stopping and waiting (pending approvals, which
    would otherwise hold the stop for days).
    """
    if state.status is not ExecutionStatus.IN_PROGRESS and not (abandon and state.status is ExecutionStatus.STOPPING):
        return state
    actions = {
        key: ActionStatus.ABANDONED
        if status is ActionStatus.IN_PROGRESS and (abandon or key in also_abandon)
        else status
        for key, status in state.actions.items()
    }
    stages = {name: StageStatus.STOPPING if s is StageStatus.IN_PROGRESS else s for name, s in state.stages.items()}
    conditions = {
        key: ConditionStatus.CANCELLED if status is ConditionStatus.IN_PROGRESS else status
        for key, status in state.conditions.items()
    }
    stopping = replace(state, status=ExecutionStatus.STOPPING, stages=stages, actions=actions, summary=reason)
    return replace(stopping, conditions=conditions)


def retry(definition: PipelineDefinition, state: ExecutionState, stage_name: str, mode: str) -> ExecutionState:
    """RetryStageExecution: run a failed or stopped stage again, all its actions or only those that failed."""
    if mode not in RETRY_MODES:
        raise RetryRefused(f"retry mode must be {' or '.join(RETRY_MODES)}, not {mode!r}")
    if state.status not in (ExecutionStatus.FAILED, ExecutionStatus.STOPPED):
        raise RetryRefused(f"the execution is {state.status.value}: only a failed or stopped execution is retried")
    names = [s.name for s in definition.stages]
    if stage_name not in names:
        raise RetryRefused(f"pipeline {definition.name!r} has no stage {stage_name!r}")
    status = state.stages.get(stage_name)
    if status not in (StageStatus.FAILED, StageStatus.STOPPED):
        shown = status.value if status else "not entered"
        raise RetryRefused(f"stage {stage_name} is {shown}: only a failed or stopped stage can be retried")
    stage = definition.stage(stage_name)
    actions = dict(state.actions)
    condition_failed = state.conditions.get((stage_name, ON_SUCCESS)) is ConditionStatus.FAILED
    failed_action = any(actions.get((stage_name, a.name)) in _UNSUCCESSFUL for a in stage.actions)
    if not failed_action and not (condition_failed and mode == "ALL_ACTIONS"):
        hint = " (its onSuccess condition failed: retry ALL_ACTIONS)" if condition_failed else ""
        raise RetryRefused(f"stage {stage_name} has no failed action to retry{hint}")
    _clear_for_retry(stage, actions, mode)
    stages = {**state.stages, stage_name: StageStatus.IN_PROGRESS}
    conditions = {key: status for key, status in state.conditions.items() if key != (stage_name, ON_SUCCESS)}
    retried = replace(state, status=ExecutionStatus.IN_PROGRESS, stages=stages, actions=actions, summary=None)
    return replace(retried, conditions=conditions)


def _settle_stop(state: ExecutionState) -> ExecutionState:
    if ActionStatus.IN_PROGRESS in state.actions.values():
        return state
    stages = {name: StageStatus.STOPPED if s is StageStatus.STOPPING else s for name, s in state.stages.items()}
    return replace(state, status=ExecutionStatus.STOPPED, stages=stages, waiting=None)


def _retries_automatically(stage: StageDeclaration, retries: Mapping[str, int]) -> bool:
    rule = stage.rules.on_failure
    return rule is not None and rule.result == "RETRY" and retries.get(stage.name, 0) < 1


def _clear_for_retry(stage: StageDeclaration, actions: dict[ActionKey, ActionStatus], mode: str) -> None:
    """Forget the attempts a retry replaces, so that `advance` starts those actions again."""
    for action in stage.actions:
        key = (stage.name, action.name)
        if mode == "ALL_ACTIONS" or actions.get(key) in _UNSUCCESSFUL:
            actions.pop(key, None)


def _progress_stage(
    stage: StageDeclaration, actions: dict[ActionKey, ActionStatus], starts: list[StartAction]
) -> tuple[StageStatus | None, str | None]:
    """Walk the runOrder groups; return the stage's final status (and a failed action), or None while it runs."""
    for order in stage.run_orders():
        group = [a.name for a in stage.actions if a.run_order == order]
        not_started = [name for name in group if (stage.name, name) not in actions]
        statuses = [actions[(stage.name, name)] for name in group if (stage.name, name) in actions]
        failed = [name for name in group if actions.get((stage.name, name)) in _UNSUCCESSFUL]
        if ActionStatus.IN_PROGRESS in statuses:
            return None, None
        if failed:
            return StageStatus.FAILED, failed[0]
        if not_started:
            for name in not_started:
                actions[(stage.name, name)] = ActionStatus.IN_PROGRESS
                starts.append(StartAction(stage.name, name))
            return None, None
    return StageStatus.SUCCEEDED, None


_UNSUCCESSFUL = (ActionStatus.FAILED, ActionStatus.ABANDONED)
