"""The scheduler process: the reconciler every few seconds (cron schedules and timeouts join it later)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from conveyor.config import Settings
from conveyor.queues import connect
from conveyor.recovery import reconcile
from jobs.dispatch import RQInspector
from jobs.runtime import make_runtime, prepare

log = logging.getLogger("conveyor.scheduler")


def run_scheduler(settings: Settings, *, once: bool = False) -> None:
    prepare(settings)
    rt = make_runtime(settings)
    inspector = RQInspector(connect(settings))
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    if not once:
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
    log.info("scheduler running: reconciling every %gs", settings.reconcile_interval)
    while not stop.is_set():
        try:
            report = reconcile(rt, inspector)
        except Exception:  # SQL or Redis away for a moment: the next pass tries again
            log.exception("reconcile pass failed")
        else:
            timed_out = report.queue_timed_out or report.actions_timed_out or report.jobs_timed_out
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
        if once:
            return
        stop.wait(settings.reconcile_interval)
