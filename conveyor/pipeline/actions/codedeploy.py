"""CodeDeploy deploy actions: deploy the input artifact (a zip with its appspec.yml at the root) to a deployment
group, and end as the deployment ends.

The action's job creates the deployment (`ApplicationName`, `DeploymentGroupName`) with the artifact as an
`Artifact` revision, and records the deployment id as the action's external execution id. The deployment tells the
action how it ended through a `deploy.ended` job (`ended_deployment`), whatever ended it: its hosts, a stop, a lost
agent. A deployment refused at creation (an invalid appspec, a group already deploying, no such group) fails the
action at once with the reason. A deployment that fails and is rolled back fails the action too, as in CodePipeline.
"""

from __future__ import annotations

from conveyor.db.deploy_models import Deployment
from conveyor.db.models import ActionExecution
from conveyor.deploy.deployments import DeploymentRequest, create_deployment
from conveyor.deploy.status import DeploymentStatus
from conveyor.errors import ConveyorError, InvalidRequest, NotFound, SpecError
from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart, queue_run
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime


def start(context: ActionStart) -> None:
    queue_run(context, timeout_seconds=600)


def deploy(rt: Runtime, run: ActionRun) -> ActionOutcome | None:
    """Create the deployment; None while it runs (it reports when it ends), or the outcome if it could not start."""
    artifact = run.input_artifacts[run.declaration.input_artifacts[0]]
    request = DeploymentRequest(
        application_name=run.configuration["ApplicationName"],
        group_name=run.configuration["DeploymentGroupName"],
        revision={"revisionType": "Artifact", "artifact": {"key": artifact["key"], "bundleType": "zip"}},
        description=f"pipeline {run.pipeline_name}, execution {run.execution_id}",
        action_execution_id=run.action_execution_id,
    )
    try:
        deployment = create_deployment(rt, request)
    except SpecError as exc:  # the artifact's appspec is invalid: every problem, with its path and line
        return ActionOutcome(ActionStatus.FAILED, summary=exc.describe(), error_code="ConfigurationError")
    except (InvalidRequest, NotFound) as exc:
        return ActionOutcome(ActionStatus.FAILED, summary=exc.message, error_code="ConfigurationError")
    except ConveyorError as exc:
        return ActionOutcome(ActionStatus.FAILED, summary=exc.message, error_code="JobFailed")
    with rt.db.session() as session:
        action = session.get_one(ActionExecution, run.action_execution_id)
        action.external_execution_id = deployment["deploymentId"]
        action.summary = f"Deployment {deployment['deploymentId']} is {deployment['status']}"
    return None


def ended_deployment(rt: Runtime, deployment_id: str) -> tuple[str, ActionOutcome] | None:
    """The action an ended deployment reports to, with the outcome it reports (None: not ended, or no action)."""
    with rt.db.reader() as session:
        deployment = session.get(Deployment, deployment_id)
        if deployment is None or deployment.action_execution_id is None:
            return None
        if not DeploymentStatus(deployment.status).final:
            return None
        return deployment.action_execution_id, outcome_of(deployment)


def outcome_of(deployment: Deployment) -> ActionOutcome:
    if deployment.status == DeploymentStatus.SUCCEEDED.value:
        return ActionOutcome(
            ActionStatus.SUCCEEDED,
            summary=f"Deployment {deployment.id} succeeded",
            external_execution_id=deployment.id,
        )
    error = deployment.error_information or {}
    reason = f": {error['code']}: {error.get('message', '')}" if error.get("code") else ""
    rolled_back = (deployment.rollback_info or {}).get("rollbackDeploymentId")
    rollback = f" (rolled back by deployment {rolled_back})" if rolled_back else ""
    return ActionOutcome(
        ActionStatus.FAILED,
        summary=f"Deployment {deployment.id} {deployment.status}{reason}{rollback}",
        error_code="JobFailed",
        external_execution_id=deployment.id,
    )
