"""Trigger jobs: decide a push whose file path filters need the changed files, read from git; look at the sources
that poll for changes."""

from __future__ import annotations

import logging

from conveyor.runtime import Runtime
from conveyor.triggers.polling import poll_sources as poll
from conveyor.triggers.service import start_deferred
from jobs.runtime import Lease, run_dispatch

log = logging.getLogger(__name__)


def changed_files(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _changed_files)


def _changed_files(rt: Runtime, delivery_id: str, _lease: Lease) -> None:
    start_deferred(rt, delivery_id)


def poll_sources(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _poll_sources)


def _poll_sources(rt: Runtime, _subject: str, _lease: Lease) -> None:
    started = poll(rt)
    if started:
        log.info("sources that poll for changes started %d execution(s): %s", len(started), ", ".join(started))
