"""Batch jobs: read a batch build's batch section from its source and start its first builds."""

from __future__ import annotations

from conveyor.build import batches
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def prepare(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _prepare)


def _prepare(rt: Runtime, batch_id: str, _lease: Lease) -> None:
    ended = batches.prepare_batch(rt, batch_id)
    if ended is not None:
        pipelines.report_batch(rt, ended)
