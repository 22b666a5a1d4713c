"""What CodeDeploy answers about a deployment (`deploymentInfo`) and about each of its targets (`instanceTarget`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from conveyor.db.deploy_models import Deployment, DeploymentTarget
from conveyor.deploy.blue_green_fleet import plan_of
from conveyor.timefmt import iso


def deployment_info(deployment: Deployment) -> dict[str, Any]:
    """CodeDeploy's `deploymentInfo` of a deployment."""
    counts = Counter(t.status for t in deployment.targets)
    plan = plan_of(deployment)
    info: dict[str, Any] = {
        "deploymentId": deployment.id,
        "applicationName": deployment.group.application.name,
        "deploymentGroupName": deployment.group.name,
        "deploymentConfigName": deployment.deployment_config_name,
        "computePlatform": deployment.group.application.compute_platform,
        "revision": deployment.revision,
        "status": deployment.status,
        "creator": deployment.creator,
        "description": deployment.description,
        "fileExistsBehavior": deployment.file_exists_behavior,
        "ignoreApplicationStopFailures": deployment.ignore_application_stop_failures,
        "deploymentOverview": {
            s: counts.get(s, 0) for s in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")
        },
        "batches": deployment.fleet.get("batches", []),
        "createTime": iso(deployment.created_at),
        "startTime": iso(deployment.started_at),
        "completeTime": iso(deployment.completed_at),
    }
    if plan is not None:
        info |= {
            "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            "blueGreenDeploymentConfiguration": plan.options.to_info(),
            "targetInstances": plan.target_instances,
            "instanceTerminationWaitTimeStarted": plan.phase.value == "TerminationWait",
        }
    for key, value in (
        ("autoRollbackConfiguration", deployment.auto_rollback),
        ("rollbackInfo", deployment.rollback_info),
        ("errorInformation", deployment.error_information),
    ):
        if value:
            info[key] = value
    return info


def target_info(target: DeploymentTarget) -> dict[str, Any]:
    """CodeDeploy's instanceTarget: with its `instanceLabel` (Blue or Green) in a blue/green deployment."""
    info = {
        "targetId": target.host_name,
        "status": target.status,
        "batch": target.batch,
        "startTime": iso(target.started_at),
        "endTime": iso(target.ended_at),
        "lifecycleEvents": target.lifecycle_events,
    }
    plan = plan_of(target.deployment)
    if plan is not None:
        info["instanceLabel"] = plan.label(target.host_name).value
    return info
