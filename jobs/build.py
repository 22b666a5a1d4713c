"""Build jobs: run one build on this worker; tell the pipeline action that started a build how it ended.

A build worker is free for its next build once the build has ended: the transaction that records a pipeline action's
build as ended also queues a `build.ended` job, which tells the action on the `pipeline` queue's worker, so the next
action starts from there. A build of a batch moves its batch on from the build worker.

While the build runs, a watcher looks for a stop request (a Redis key set by StopBuild) twice a second, and the
lease, if taken away, stops the build too: either way the running command's process group is killed and the
build ends STOPPED after FINALIZING.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

from conveyor.build import service as builds
from conveyor.build.runner import BuildRunner
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch, run_in_transaction

STOP_POLL_SECONDS = 0.5


def run(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, lambda rt, build_id, lease: _run(rt, build_id, lease, attempt))


def _run(rt: Runtime, build_id: str, lease: Lease, attempt: int) -> None:
    watchers: list[StopWatcher] = []

    def watch(runner: BuildRunner) -> None:
        lease.on_lost(runner.stop)
        if rt.redis is not None:
            watchers.append(StopWatcher(rt.redis, builds.stop_key(build_id), runner.stop))

    try:
        build = builds.run_build(rt, build_id, attempt, on_runner=watch)
    finally:
        for watcher in watchers:
            watcher.close()
    if build.action_execution_id is None:  # a pipeline action's build is told by its `build.ended` job
        pipelines.report_build(rt, build)


def ended(dispatch_id: str, attempt: int) -> None:
    """A pipeline action's build ended: tell the action (a short job on the `pipeline` queue, one transaction)."""
    run_in_transaction(dispatch_id, attempt, pipelines.report_ended_build)


class StopWatcher:
    """Calls `stop` once if `key` appears in Redis, checking from a background thread until closed."""

    def __init__(self, client: redis.Redis, key: str, stop: Callable[[], None]) -> None:
        self.client = client
        self.key = key
        self.stop = stop
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"stop-{key}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._closed.wait(STOP_POLL_SECONDS):
            try:
                requested = bool(self.client.exists(self.key))
            except redis.RedisError:
                continue  # Redis away for a moment: look again at the next tick
            if requested:
                self.stop()
                return
