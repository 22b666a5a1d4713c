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

Rules (CodePipeline's, §3.1 and §3.5 of the AWS semantics):

* stages run in order; a stage is entered only after the one before it succeeded;
* in a stage, actions with the same runOrder run in parallel, groups run in ascending runOrder;
* a group starts only when every action of the lower groups succeeded;
* when an action fails, its running siblings finish, no later group starts, and the stage fails once nothing in
  it is running; then the stage's `onFailure` applies: RETRY runs it again once (automatic retry), ROLLBACK asks
  for a rollback of the stage, and otherwise the execution fails;
* the execution succeeds when every stage succeeded;
* a final state is final: nothing changes it, except a retry of a failed or stopped stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from conveyor.pipeline.spec import PipelineDefinition, StageDeclaration
from conveyor.pipeline.status import ActionStatus, ExecutionStatus, StageStatus

ActionKey = tuple[str, str]  # (stage name, action name)
RETRY_MODES = ("FAILED_ACTIONS", "ALL_ACTIONS")


@dataclass(frozen=True)
class ExecutionState:
    status: ExecutionStatus = ExecutionStatus.IN_PROGRESS
    stages: Mapping[str, StageStatus] = field(default_factory=dict)
    actions: Mapping[ActionKey, ActionStatus] = field(default_factory=dict)
    summary: str | None = None
    waiting: str | None = None  # the stage this execution waits to enter
    auto_retries: Mapping[str, int] = field(default_factory=dict)  # automatic retries used, by stage


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
    rollback: str | None = None  # a stage whose onFailure asks for a rollback


class RetryRefused(ValueError):
    """A RetryStageExecution whose preconditions do not hold; the message says which."""


def record(state: ExecutionState, result: ActionResult) -> ExecutionState:
    """Apply a finished action; ignored unless that action is in progress and the result is final."""
    key = (result.stage, result.action)
    if state.actions.get(key) is not ActionStatus.IN_PROGRESS or not result.status.final:
        return state
    return replace(state, actions={**state.actions, key: result.status})


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
    stages = dict(state.stages)
    actions = dict(state.actions)
    retries = dict(state.auto_retries)
    starts: list[StartAction] = []
    for stage in definition.stages:
        if stages.get(stage.name) is StageStatus.SUCCEEDED:
            continue
        if stage.name not in stages and stage.name in blocked:
            waiting = replace(state, stages=stages, actions=actions, auto_retries=retries, waiting=stage.name)
            return Transition(waiting, tuple(starts))
        stages[stage.name] = StageStatus.IN_PROGRESS
        outcome, failed = _progress_stage(stage, actions, starts)
        if outcome is StageStatus.FAILED and _retries_automatically(stage, retries):
            retries[stage.name] = retries.get(stage.name, 0) + 1
            _clear_for_retry(stage, actions, stage.rules.on_failure.retry_mode if stage.rules.on_failure else "")
            outcome, failed = _progress_stage(stage, actions, starts)
        running = replace(state, stages=stages, actions=actions, auto_retries=retries, waiting=None)
        if outcome is None:
            return Transition(running, tuple(starts))
        stages[stage.name] = outcome
        if outcome is StageStatus.FAILED:
            summary = f"Stage {stage.name} failed: action {failed} did not succeed"
            final = replace(running, status=ExecutionStatus.FAILED, summary=summary)
            rule = stage.rules.on_failure
            return Transition(final, tuple(starts), stage.name if rule and rule.result == "ROLLBACK" else None)
    done = replace(state, status=ExecutionStatus.SUCCEEDED, stages=stages, actions=actions, summary=None)
    return Transition(replace(done, auto_retries=retries, waiting=None), tuple(starts))


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
    return replace(state, status=ExecutionStatus.STOPPING, stages=stages, actions=actions, summary=reason)


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
    if not any(actions.get((stage_name, a.name)) in _UNSUCCESSFUL for a in stage.actions):
        raise RetryRefused(f"stage {stage_name} has no failed action to retry")
    _clear_for_retry(stage, actions, mode)
    stages = {**state.stages, stage_name: StageStatus.IN_PROGRESS}
    return replace(state, status=ExecutionStatus.IN_PROGRESS, stages=stages, actions=actions, summary=None)


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
