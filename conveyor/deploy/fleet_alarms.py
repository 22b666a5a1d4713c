"""When a deployment on hosts looks at its group's CloudWatch alarms, and what it does when one fires (§2.6).

Contract:

* `alarm_decision(settings, group)` polls the alarms of a group (its request shape) through the one boto3 client
  factory (the settings' region and endpoint) and decides, as `conveyor.deploy.alarms` does: go on, or stop with
  ALARM_ACTIVE naming the alarms in ALARM (or saying their states could not be read, unless
  `ignorePollAlarmFailure`). A group whose `alarmConfiguration` is disabled or names no alarm is never polled.
* A deployment polls before each batch starts: before its first (`conveyor.deploy.deployments.create_deployment`,
  before its transaction: an alarm already in ALARM stops it before any host starts), and whenever a host reports
  (`conveyor.deploy.orchestration.record_host_result`, before it takes the deployment's row lock), which is when
  the next batch would start.
* The poll holds no row lock: read the deployment, poll, then stop it under its lock only if it still runs. A
  stopped deployment ends once its hosts in progress have reported, as Stopped with ALARM_ACTIVE; it rolls back
  when its auto-rollback events hold DEPLOYMENT_STOP_ON_ALARM.

Decision where AWS says nothing: a rollback deployment (creator `codeDeployRollback`) does not watch the alarms.
It exists to bring back the last good revision, most often while the alarm that caused it still fires; stopping it
on that alarm would leave the hosts on the revision that set it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conveyor import aws
from conveyor.config import Settings
from conveyor.deploy.alarms import GO_ON, AlarmConfiguration, AlarmDecision, AlarmPoll, check_alarms, decide_alarms
from conveyor.deploy.aws_calls import AWS_ERRORS, aws_error_text


def alarm_decision(settings: Settings, group: Mapping[str, Any]) -> AlarmDecision:
    """Poll the group's alarms (unless none are watched) and decide whether its deployment goes on."""
    config = AlarmConfiguration.from_group(group)
    if not config.watched:
        return GO_ON
    try:
        cloudwatch = aws.client("cloudwatch", settings)
    except AWS_ERRORS as exc:  # no client could be made (no region, no credentials)
        return decide_alarms(config, AlarmPoll(failure=f"CloudWatch could not be reached: {aws_error_text(exc)}"))
    return check_alarms(cloudwatch, config)
