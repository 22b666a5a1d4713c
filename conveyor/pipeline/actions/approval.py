"""Manual approval actions: the action waits, with a token, until someone approves or rejects it or time runs out.

The token is a fresh random UUID (version 4) per approval, kept as the action's external execution id, so it serves
both as GetPipelineState's `token` and, as in PARALLEL mode, as the `externalExecutionId`. No job decides it: the
answer comes through `control.put_approval_result`, and the reconciler fails an approval left unanswered past its
deadline (`timeoutInMinutes`, default 7 days). The stage stays locked meanwhile, because the action is in progress.

With `NotificationArn`, a job publishes CodePipeline's approval message to that SNS topic (through boto3, in the
action's region and as its role). A message that cannot be sent is logged; it never fails the approval.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError

from conveyor import aws
from conveyor.config import Settings
from conveyor.db.models import ActionExecution, utcnow
from conveyor.dispatch import Kind
from conveyor.pipeline.actions.base import ActionStart
from conveyor.pipeline.definitions import action_in_context
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_MINUTES = 7 * 24 * 60


def start(context: ActionStart) -> None:
    minutes = context.declaration.timeout_in_minutes or DEFAULT_TIMEOUT_MINUTES
    context.action.external_execution_id = str(uuid.uuid4())  # answers the approval: all of it random
    context.action.deadline_at = utcnow() + timedelta(minutes=minutes)
    context.action.summary = "Waiting for approval"
    if context.configuration.get("NotificationArn"):
        context.outbox.add(Kind.APPROVAL_NOTICE, context.action.id, DEFAULT_QUEUE, timeout_seconds=120)


def approval_message(settings: Settings, pipeline: str, action: ActionExecution, configuration: dict[str, str]) -> str:
    """The message CodePipeline publishes for an approval: where to review it, and the token to answer with."""
    review = f"{settings.public_url.rstrip('/')}/api/v1/executions/{action.execution_id}"
    approval = {
        "pipelineName": pipeline,
        "stageName": action.stage_name,
        "actionName": action.action_name,
        "token": action.external_execution_id,
        "expires": iso(action.deadline_at),
        "externalEntityLink": configuration.get("ExternalEntityLink"),
        "approvalReviewLink": review,
        "customData": configuration.get("CustomData"),
    }
    return json.dumps({"region": settings.aws_region, "consoleLink": review, "approval": approval})


def send_notice(rt: Runtime, action_execution_id: str) -> None:
    """Publish the approval message to the action's NotificationArn; a failure is logged, never raised."""
    with rt.db.reader() as session:
        found = action_in_context(session, action_execution_id)
        configuration = dict(found.action.resolved_configuration or found.declaration.configuration)
        message = approval_message(rt.settings, found.definition.name, found.action, configuration)
        declaration = found.declaration
    topic = configuration["NotificationArn"]
    try:
        client = aws.client("sns", rt.settings, region=declaration.region, role_arn=declaration.role_arn)
        client.publish(TopicArn=topic, Subject=f"APPROVAL NEEDED: {found.definition.name}"[:100], Message=message)
    except (BotoCoreError, ClientError) as exc:
        log.warning("could not publish the approval of %s to %s: %s", action_execution_id, topic, exc)
