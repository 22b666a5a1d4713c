"""Deploy jobs: a host's part of a deployment (run by that host's agent on its own queue), the rollout of a Lambda or
ECS deployment (on the `deploy` queue), and the report of a deployment's end to its pipeline action.

The agent process says which hosts it stands for and where each one's file system starts (`serve_host`); a job
for a host this process does not serve fails, and is retried or given up by the recovery rules. A rollout job runs
as long as the deployment's hooks and traffic shifts take, renewing its lease; when the lease is taken from it (the
reconciler started another attempt) it stops at its next step.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from conveyor.db.deploy_models import Deployment
from conveyor.deploy import orchestration
from conveyor.deploy.host_run import retire_from_group, run_on_host
from conveyor.deploy.rollout_runner import run_rollout
from conveyor.deploy.target_progress import begin_target
from conveyor.errors import ConfigurationError
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.codedeploy import ended_deployment
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch

log = logging.getLogger(__name__)
_host_roots: dict[str, Path] = {}


def serve_host(name: str, root: Path) -> None:
    """Make this process the agent of host `name`, whose file system starts at `root`."""
    _host_roots[name] = root


def ended(dispatch_id: str, attempt: int) -> None:
    """A deployment ended: tell the pipeline action that started it (this job runs on the `default` queue)."""
    run_dispatch(dispatch_id, attempt, lambda rt, deployment_id, _lease: _report(rt, deployment_id))


def _report(rt: Runtime, deployment_id: str) -> None:
    ended = ended_deployment(rt, deployment_id)
    if ended is not None:
        pipelines.complete_action(rt, *ended)


def host(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _host)


def _host(rt: Runtime, subject: str, _lease: Lease) -> None:
    deployment_id, name = orchestration.parse_host_subject(subject)
    root = _host_roots.get(name)
    if root is None:
        raise ConfigurationError(f"this agent does not serve host {name!r}")
    work = begin_target(rt, deployment_id, name)
    if work is None:
        return  # stopped before it began, or reported already
    succeeded = run_on_host(rt, work, root)
    orchestration.record_host_result(rt, deployment_id, name, succeeded)


def retire(dispatch_id: str, attempt: int) -> None:
    """A blue/green deployment released this original host: remove the group's revision from it."""
    run_dispatch(dispatch_id, attempt, _retire)


def _retire(rt: Runtime, subject: str, _lease: Lease) -> None:
    deployment_id, name = orchestration.parse_host_subject(subject)
    root = _host_roots.get(name)
    if root is None:
        raise ConfigurationError(f"this agent does not serve host {name!r}")
    with rt.db.reader() as session:
        deployment = session.get(Deployment, deployment_id)
        group_id = None if deployment is None else deployment.group_id
    if group_id is not None:
        retire_from_group(group_id, root, lambda line: log.info("%s: %s", name, line))


def rollout(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, _rollout)


def _rollout(rt: Runtime, deployment_id: str, lease: Lease) -> None:
    lost = threading.Event()
    lease.on_lost(lost.set)
    run_rollout(rt, deployment_id, keep_going=lambda: not lost.is_set())
