"""Trigger jobs: decide a push whose file path filters need the changed files, read from git."""

from __future__ import annotations

from conveyor.runtime import Runtime
from conveyor.triggers.service import start_deferred
from jobs.runtime import Lease, run_dispatch


def changed_files(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _changed_files)


def _changed_files(rt: Runtime, delivery_id: str, _lease: Lease) -> None:
    start_deferred(rt, delivery_id)
