"""The pipeline engine: pure transitions of one execution, no I/O.

Contract
--------
State is what the database holds for an execution: its status, the status of every stage entered and of every
action started. Two functions move it:

* `record(state, result)` applies one finished action (an event). A result for an action that is not in progress
  is ignored, so a duplicate or late report can never finish an action twice.
* `advance(definition, state)` returns the new state and the actions to start. It is idempotent: called again on
  its own output it starts nothing new.

Rules (CodePipeline's, §3.1 of the AWS semantics):

* stages run in order; a stage is entered only after the one before it succeeded;
* in a stage, actions with the same runOrder run in parallel, groups run in ascending runOrder;
* a group starts only when every action of the lower groups succeeded;
* when an action fails, its running siblings finish, no later group starts, and the stage fails once nothing in
  it is running; the execution then fails;
* the execution succeeds when every stage succeeded;
* a final state is final: nothing changes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from conveyor.pipeline.spec import PipelineDefinition, StageDeclaration
from conveyor.pipeline.status import ActionStatus, ExecutionStatus, StageStatus

ActionKey = tuple[str, str]  # (stage name, action name)


@dataclass(frozen=True)
class ExecutionState:
    status: ExecutionStatus = ExecutionStatus.IN_PROGRESS
    stages: Mapping[str, StageStatus] = field(default_factory=dict)
    actions: Mapping[ActionKey, ActionStatus] = field(default_factory=dict)
    summary: str | None = None


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


def record(state: ExecutionState, result: ActionResult) -> ExecutionState:
    """Apply a finished action; ignored unless that action is in progress and the result is final."""
    key = (result.stage, result.action)
    if state.actions.get(key) is not ActionStatus.IN_PROGRESS or not result.status.final:
        return state
    return replace(state, actions={**state.actions, key: result.status})


def advance(definition: PipelineDefinition, state: ExecutionState) -> Transition:
    """Settle the execution: finish what is finished and start what may start."""
    if state.status.final:
        return Transition(state)
    stages = dict(state.stages)
    actions = dict(state.actions)
    starts: list[StartAction] = []
    for stage in definition.stages:
        if stages.get(stage.name) is StageStatus.SUCCEEDED:
            continue
        stages[stage.name] = StageStatus.IN_PROGRESS
        outcome, failed = _progress_stage(stage, actions, starts)
        if outcome is None:
            return Transition(replace(state, stages=stages, actions=actions), tuple(starts))
        stages[stage.name] = outcome
        if outcome is StageStatus.FAILED:
            summary = f"Stage {stage.name} failed: action {failed} did not succeed"
            final = ExecutionState(ExecutionStatus.FAILED, stages, actions, summary)
            return Transition(final, tuple(starts))
    return Transition(ExecutionState(ExecutionStatus.SUCCEEDED, stages, actions, None), tuple(starts))


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
