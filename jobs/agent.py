"""The agent process on a deployment target host: it registers the host with its tags, then works the host's own
queue (`host-<name>`), running the lifecycle events of each deployment there.

It is a non-forking RQ worker: a host runs one deployment at a time, its hook scripts are processes of their own,
and a fork per job would cost more than the events it orchestrates.
"""

from __future__ import annotations

import logging
from pathlib import Path

from conveyor.config import Settings
from conveyor.deploy import registry
from conveyor.queues import connect
from jobs.deploy import serve_host
from jobs.rq_classes import InProcessWorker
from jobs.runtime import make_runtime, prepare, use_runtime

log = logging.getLogger("conveyor.agent")


def run_agent(settings: Settings, name: str, tags: dict[str, str], root: Path, *, burst: bool = False) -> None:
    """Register the host and work its queue until told to stop (or, with `burst`, until it is empty)."""
    prepare(settings)
    rt = make_runtime(settings)
    use_runtime(rt)
    rt.db.checkpoint_in_background()
    host = registry.register_host(rt, name, tags)
    serve_host(name, root)
    log.info("agent of host %s (root %s) working queue %s", name, root, host["queue"])
    worker = InProcessWorker([host["queue"]], connection=connect(settings))
    worker.work(burst=burst, logging_level="INFO")
