"""What a batch does next, given the state of its builds: which to start, which to stop, and whether it is over.

Pure: the batch service feeds it the tasks and each one's build status (None for not started) and carries out the
step. A task starts when each task it depends on is done — SUCCEEDED, or ended otherwise with `ignore-failure`.
A failure that counts (no `ignore-failure`) fails the batch; the tasks that depend on it, directly or not, never
start; with `fast-fail` the builds still running are stopped and nothing more starts. A stop request does the
same, and the batch ends STOPPED.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from conveyor.build.batch_spec import BatchTask
from conveyor.build.status import BuildStatus


@dataclass(frozen=True)
class BatchStep:
    start: tuple[str, ...] = ()  # identifiers to submit builds for now
    stop: tuple[str, ...] = ()  # identifiers whose running builds are to be stopped
    never: tuple[str, ...] = ()  # identifiers that will not run
    status: BuildStatus | None = None  # the batch's final status, once nothing runs or can start


def next_step(
    tasks: tuple[BatchTask, ...],
    states: Mapping[str, str | None],
    *,
    fast_fail: bool = False,
    stop_requested: bool = False,
) -> BatchStep:
    by_id = {task.identifier: task for task in tasks}

    def final(identifier: str) -> bool:
        state = states.get(identifier)
        return state is not None and BuildStatus(state).final

    def counts_as_failure(identifier: str) -> bool:
        failed = final(identifier) and states.get(identifier) != BuildStatus.SUCCEEDED.value
        return failed and not by_id[identifier].ignore_failure

    failures = [t.identifier for t in tasks if counts_as_failure(t.identifier)]
    running = [t.identifier for t in tasks if states.get(t.identifier) == BuildStatus.IN_PROGRESS.value]
    waiting = [t.identifier for t in tasks if states.get(t.identifier) is None]
    halted = stop_requested or (fast_fail and bool(failures))
    never = waiting if halted else _blocked(tasks, states, set(failures))
    start = (
        ()
        if halted
        else tuple(
            identifier
            for identifier in waiting
            if identifier not in never and all(final(d) for d in by_id[identifier].depend_on)
        )
    )
    stop = tuple(running) if halted else ()
    if running or start:
        return BatchStep(start, stop, tuple(never))
    if stop_requested:
        status = BuildStatus.STOPPED
    elif failures or never:
        status = BuildStatus.FAILED
    else:
        status = BuildStatus.SUCCEEDED
    return BatchStep(never=tuple(never), status=status)


def _blocked(tasks: tuple[BatchTask, ...], states: Mapping[str, str | None], failed: set[str]) -> list[str]:
    """Tasks not started that never can: something they depend on (directly or not) failed in a way that counts."""
    blocked: set[str] = set()
    changed = True
    while changed:
        changed = False
        for task in tasks:
            if task.identifier in blocked or states.get(task.identifier) is not None:
                continue
            if any(d in failed or d in blocked for d in task.depend_on):
                blocked.add(task.identifier)
                changed = True
    return [t.identifier for t in tasks if t.identifier in blocked]
