"""Source jobs: fetch a revision into the repository's mirror and store the source artifact."""

from __future__ import annotations

from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions import git_source
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def fetch(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _fetch)


def _fetch(rt: Runtime, action_execution_id: str, _lease: Lease) -> None:
    pipelines.complete_action(rt, action_execution_id, git_source.fetch(rt, action_execution_id))
