"""Pipeline control jobs: short, on the `pipeline` queue, each one transaction."""

from __future__ import annotations

from conveyor.pipeline import service as pipelines
from jobs.runtime import run_in_transaction


def advance(dispatch_id: str, attempt: int) -> None:
    run_in_transaction(dispatch_id, attempt, pipelines.advance_in)
