"""The scheduler process: every few seconds, fire the cron schedules whose slot is due and run the reconciler; every
second, look for notifications and commit statuses to send (`conveyor.notify.wake`); every `poll_interval` seconds
(the first time one interval after it starts; at once for `--once`), queue a look at the sources that poll for
changes (`conveyor.triggers.polling`).

Two may run: each slot fires once (see `conveyor.schedules.firing`), the reconciler skips what the other holds, and
each notification is sent once (see `conveyor.notify`).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

from conveyor.config import Settings
from conveyor.notify.wake import wake_readers
from conveyor.queues import connect
from conveyor.recovery import DONE_KEPT, reconcile
from conveyor.runtime import Runtime
from conveyor.schedules.firing import fire_due
from conveyor.triggers.polling import queue_poll
from jobs.dispatch import RQInspector
from jobs.runtime import make_runtime, prepare

log = logging.getLogger("conveyor.scheduler")


def run_scheduler(settings: Settings, *, once: bool = False) -> None:
    prepare(settings)
    rt = make_runtime(settings)
    stop = threading.Event()
    if not once:
        rt.db.checkpoint_in_background()
        _stop_on_signals(stop)
    log.info(
        "scheduler running: firing schedules and reconciling every %gs, looking for notifications every %gs, %s",
        settings.reconcile_interval,
        settings.notify_interval,
        f"polling sources every {settings.poll_interval:g}s" if settings.poll_interval else "polling no sources",
    )
    try:
        _run(rt, RQInspector(connect(settings)), stop, once)
    finally:
        rt.db.dispose()


def _stop_on_signals(stop: threading.Event) -> None:
    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def _run(rt: Runtime, inspector: RQInspector, stop: threading.Event, once: bool) -> None:
    settings = rt.settings
    next_reconcile = 0.0
    next_poll = 0.0 if once else time.monotonic() + settings.poll_interval  # one pass looks at once
    while not stop.is_set():
        if time.monotonic() >= next_reconcile:
            _fire_schedules(rt)
            _reconcile(rt, inspector)
            next_reconcile = time.monotonic() + settings.reconcile_interval
        if settings.poll_interval and time.monotonic() >= next_poll:
            _queue_poll(rt)
            next_poll = time.monotonic() + settings.poll_interval
        _wake_readers(rt)
        if once:
            return
        stop.wait(max(0.0, min(settings.notify_interval, next_reconcile - time.monotonic())))


def _fire_schedules(rt: Runtime) -> None:
    try:
        fired = fire_due(rt)
    except Exception:  # SQL away for a moment: the slots stay due, and the next pass fires them
        log.exception("firing schedules failed")
        return
    for firing in fired:
        log.info(
            "schedule %s fired for slot %s: %s %s",
            firing.schedule,
            firing.slot.isoformat(),
            firing.status.value,
            firing.target_id or "",
        )


def _reconcile(rt: Runtime, inspector: RQInspector) -> None:
    try:
        report = reconcile(rt, inspector)
    except Exception:  # SQL or Redis away for a moment: the next pass tries again
        log.exception("reconcile pass failed")
        return
    timed_out = report.queue_timed_out or report.actions_timed_out or report.jobs_timed_out
    if report.forgotten:
        log.info("forgot %d dispatches done for more than %s", report.forgotten, DONE_KEPT)
    if report.resent or report.retried or report.given_up or timed_out:
        log.info(
            "reconciled: resent %s, retried %s, gave up %s, timed out in the queue %s, actions timed out %s,"
            " jobs timed out %s",
            report.resent,
            report.retried,
            report.given_up,
            report.queue_timed_out,
            report.actions_timed_out,
            report.jobs_timed_out,
        )


def _queue_poll(rt: Runtime) -> None:
    try:
        queue_poll(rt)
    except Exception:  # SQL away for a moment: the next interval queues it
        log.exception("queueing a look at the polled sources failed")


def _wake_readers(rt: Runtime) -> None:
    try:
        wake_readers(rt)
    except Exception:  # SQL or Redis away for a moment: the next look tries again
        log.exception("looking for notifications to send failed")
