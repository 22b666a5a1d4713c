"""The two waits of a blue/green deployment on hosts: ContinueDeployment ends them, and the reconciler ends those
whose time ran out (§2.6 of the AWS semantics).

* `continue_deployment(rt, deployment_id, wait_type)` — CodeDeploy's ContinueDeployment. READY_WAIT (the default):
  a Ready deployment (deploymentReadyOption STOP_DEPLOYMENT) goes on to reroute traffic to its replacement hosts.
  TERMINATION_WAIT: a deployment waiting to release its original hosts does so now and succeeds. A deployment that
  is not in that wait is refused (409), naming its status.
* `expire_waits(rt, now)` — run by the reconciler on each pass: a Ready deployment whose `waitTimeInMinutes` ran
  out is Stopped (error TIMEOUT, no rollback: no traffic had moved); a termination wait that ran out ends as
  ContinueDeployment(TERMINATION_WAIT) would. Each under the deployment's row lock, so a continue and an expiry
  arriving together act once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from conveyor.db import lock
from conveyor.db.deploy_models import Deployment
from conveyor.db.models import utcnow
from conveyor.deploy import orchestration
from conveyor.deploy.blue_green import Phase, WaitType, wait_phase
from conveyor.deploy.blue_green_fleet import plan_of
from conveyor.deploy.status import DeploymentErrorCode
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.runtime import Runtime


def continue_deployment(rt: Runtime, deployment_id: str, wait_type: str | None = None) -> dict[str, str]:
    """ContinueDeployment; answers the deployment's status afterwards."""
    try:
        wait = WaitType(wait_type or WaitType.READY_WAIT.value)
    except ValueError:
        raise InvalidRequest(
            f"deploymentWaitType {wait_type!r} must be {WaitType.READY_WAIT.value} or {WaitType.TERMINATION_WAIT.value}"
        ) from None
    with rt.transaction() as (session, outbox):
        deployment = lock(session, Deployment, deployment_id)
        if deployment is None:
            raise NotFound(f"no deployment {deployment_id!r}")
        plan = plan_of(deployment)
        if plan is None or plan.phase is not wait_phase(wait):
            waiting = "is not a blue/green deployment" if plan is None else f"is {deployment.status}"
            raise Conflict(
                f"deployment {deployment_id} {waiting}: only a deployment in its {wait.value} can be continued"
            )
        orchestration.continue_waiting(session, outbox, deployment)
        session.flush()
        return {"deploymentId": deployment.id, "status": deployment.status}


def expire_waits(rt: Runtime, now: datetime | None = None) -> list[str]:
    """End the waits whose time ran out (see the module's contract); returns the deployments' ids."""
    now = now or utcnow()
    with rt.db.reader() as session:
        # `>= ''` rather than `IS NOT NULL`: the same rows (group ids are never empty), found through the unique
        # index on the column; SQLite reads the whole table, every deployment ever made, for IS NOT NULL
        active = session.scalars(select(Deployment).where(Deployment.active_group_id >= "")).all()
        due = [d.id for d in active if _due(d, now)]
    expired = []
    for deployment_id in due:
        with rt.transaction() as (session, outbox):
            deployment = lock(session, Deployment, deployment_id)
            if deployment is None or not _due(deployment, now):
                continue  # continued or stopped meanwhile
            plan = plan_of(deployment)
            assert plan is not None
            if plan.phase is Phase.READY:
                minutes = plan.options.ready_wait_minutes
                message = f"traffic was not rerouted: no ContinueDeployment within {minutes} minutes of Ready"
                orchestration.stop(session, outbox, deployment, DeploymentErrorCode.TIMEOUT, message)
            else:
                orchestration.continue_waiting(session, outbox, deployment)
            expired.append(deployment_id)
    return expired


def _due(deployment: Deployment, now: datetime) -> bool:
    plan = plan_of(deployment)
    return plan is not None and plan.phase.waiting and plan.deadline is not None and plan.deadline <= now
