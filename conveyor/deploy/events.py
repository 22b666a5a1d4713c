"""Deployment events: a deployment that starts, ends, or is rolled back, written as a `state_events` row in the
transaction that made the change, in the shape EventBridge gives CodeDeploy's "Deployment State-change
Notification" (states START, SUCCESS, FAILURE, STOP, READY).

Notifications read them from there (`conveyor.notify.feed`) and never hook into the orchestration. Decision where
AWS says nothing: a deployment whose failure or stop started a rollback is told once more, with state ROLLBACK and
the rollback's id; the rollback itself starts (START) and ends like any deployment.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from conveyor.db.deploy_models import Deployment
from conveyor.db.notify_models import StateEvent
from conveyor.notify.catalog import DEPLOY, DEPLOYMENT_CHANGE

_STATES = {"InProgress": "START", "Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP", "Ready": "READY"}


def deployment_changed(session: Session, deployment: Deployment) -> None:
    """The deployment started, became ready for traffic, or ended (its status as it is now)."""
    state = _STATES.get(deployment.status)
    if state is not None:
        _emit(session, deployment, state, {})


def deployment_rolled_back(session: Session, deployment: Deployment, rollback_id: str) -> None:
    """The failed or stopped `deployment` is being rolled back by deployment `rollback_id`."""
    _emit(session, deployment, "ROLLBACK", {"rollbackDeploymentId": rollback_id})


def _emit(session: Session, deployment: Deployment, state: str, extra: dict[str, Any]) -> None:
    group = deployment.group
    detail: dict[str, Any] = {
        "application": group.application.name,
        "deploymentGroup": group.name,
        "deploymentId": deployment.id,
        "instanceGroupId": group.id,
        "state": state,
        "creator": deployment.creator,
        **extra,
    }
    if deployment.error_information and state != "START":
        detail["errorInformation"] = deployment.error_information
    session.add(
        StateEvent(
            source=DEPLOY,
            detail_type=DEPLOYMENT_CHANGE,
            state=state,
            resource=deployment.id,
            name=group.application.name,
            detail=detail,
        )
    )
