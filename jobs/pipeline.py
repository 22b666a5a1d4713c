"""Pipeline control jobs: short, on the `pipeline` queue."""

from __future__ import annotations

from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def advance(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _advance)


def _advance(rt: Runtime, execution_id: str, _lease: Lease) -> None:
    pipelines.advance(rt, execution_id)
