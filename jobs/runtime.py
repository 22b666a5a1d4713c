"""The worker process's runtime and the life of one job: claim, keep the lease, finish or fail — or, for work that
is one short transaction, all of that in the transaction itself (`run_in_transaction`).

The runtime is created on first use in the process that runs jobs (for a forking worker: in the work horse), never
at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from conveyor.config import Settings, load_settings
from conveyor.db import Database
from conveyor.db.migrate import upgrade
from conveyor.dispatch import Outbox, claim, finish, heartbeat, take
from conveyor.queues import connect
from conveyor.recovery import fail_attempt
from conveyor.runtime import Runtime
from jobs.dispatch import RQDispatcher

log = logging.getLogger(__name__)
_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - one runtime per process, made on first use
    if _runtime is None:
        _runtime = make_runtime(load_settings())
    return _runtime


SEND_TIMEOUT_SECONDS = 2.0  # a send to a Redis that does not answer gives up (the reconciler sends it again)


def make_runtime(settings: Settings, redis_timeout: float | None = None) -> Runtime:
    """`redis_timeout` bounds every command of the runtime's Redis client (none: a command waits as long as it
    takes, as a job's may)."""
    # the dispatcher's client of its own, with a timeout: a webhook's answer never waits on a hung Redis for long
    dispatcher = RQDispatcher(connect(settings, timeout=SEND_TIMEOUT_SECONDS))
    return Runtime(settings, dispatcher, connect(settings, timeout=redis_timeout))


def use_runtime(rt: Runtime | None) -> None:
    """Run this process's jobs on the given runtime (tests, in-process workers)."""
    global _runtime  # noqa: PLW0603
    _runtime = rt


def prepare(settings: Settings) -> None:
    """What every long-running process does first: bring the schema up to date."""
    if settings.auto_migrate:
        database = Database(settings.database_url)
        try:
            upgrade(database)
        finally:
            database.dispose()


class Lease:
    """Heartbeats for a claimed dispatch, from a background thread; calls `on_lost` if the lease is taken away."""

    def __init__(self, rt: Runtime, dispatch_id: str, attempt: int) -> None:
        self.rt = rt
        self.dispatch_id = dispatch_id
        self.attempt = attempt
        self._lost_callbacks: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{dispatch_id}", daemon=True)
        self._thread.start()

    def on_lost(self, callback: Callable[[], None]) -> None:
        self._lost_callbacks.append(callback)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        interval = max(0.2, self.rt.settings.lease_seconds / 3)
        while not self._stop.wait(interval):
            try:
                held = heartbeat(self.rt.db, self.dispatch_id, self.attempt)
            except Exception:  # a database hiccup: try again at the next beat
                log.warning("heartbeat for %s failed", self.dispatch_id, exc_info=True)
                continue
            if not held:
                log.warning("lease of %s attempt %d was taken away; stopping", self.dispatch_id, self.attempt)
                for callback in self._lost_callbacks:
                    callback()
                return


Work = Callable[[Runtime, str, Lease], None]


def run_dispatch(dispatch_id: str, attempt: int, work: Work) -> None:
    """Claim the dispatch, do the work under a lease, then mark it done; failures go to the recovery rules."""
    rt = runtime()
    dispatch = claim(rt.db, dispatch_id, attempt)
    if dispatch is None:
        log.info("dispatch %s attempt %d is done or superseded; nothing to do", dispatch_id, attempt)
        return
    lease = Lease(rt, dispatch_id, attempt)
    try:
        work(rt, dispatch.subject_id, lease)
    except Exception as exc:
        log.exception("%s %s failed", dispatch.kind, dispatch.subject_id)
        lease.stop()
        fail_attempt(rt, dispatch_id, attempt, f"{type(exc).__name__}: {exc}")
        return
    lease.stop()
    finish(rt.db, dispatch_id, attempt)


TransactionWork = Callable[[Runtime, Session, Outbox, str], None]


def run_in_transaction(dispatch_id: str, attempt: int, work: TransactionWork) -> None:
    """Take the dispatch and do its work in one transaction (`conveyor.dispatch.ONE_TRANSACTION`): one transaction
    instead of three, and no lease to keep. If the work raises, nothing of it is kept and the attempt goes to the
    recovery rules, as a claimed one would."""
    rt = runtime()
    try:
        with rt.transaction() as (session, outbox):
            subject_id = take(session, dispatch_id, attempt)
            if subject_id is None:
                log.info("dispatch %s attempt %d is done or superseded; nothing to do", dispatch_id, attempt)
                return
            work(rt, session, outbox, subject_id)
    except Exception as exc:
        log.exception("dispatch %s attempt %d failed", dispatch_id, attempt)
        fail_attempt(rt, dispatch_id, attempt, f"{type(exc).__name__}: {exc}")
