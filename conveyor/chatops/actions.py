"""What each chat command does, through the same services the API and the CLI call; each answers a `Reply`.

Results of commands that change something (run, stop, approve, reject, deploy, rollback, schedules
pause|resume|run) are posted in the channel, naming who asked; answers to questions (status, builds, schedules
list) only to the sender. A command
that cannot be done (no such pipeline, an approval nobody waits for, a group busy with another deployment) raises
the service's own error, whose message the sender sees.

Decisions where nothing is prescribed:

* `run` with a branch starts the pipeline at that branch's head commit, looked up in the pipeline's git source
  (which must be the only source action); the source action's configured branch is left as it is.
* `rollback` stops the group's deployment in progress with a rollback when there is one; otherwise it deploys
  again the newest revision that succeeded before the group's current one (after a failed deployment that was not
  rolled back: the group's current revision, its last known good one).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conveyor.build import views as build_views
from conveyor.chatops.commands import Command, Verb, is_commit, usage_text
from conveyor.chatops.messages import Reply, approval_buttons, message, rollback_button
from conveyor.deploy import deployments
from conveyor.deploy.host_state import bundle_type_of
from conveyor.deploy.registry import get_deployment_group
from conveyor.errors import InvalidRequest, NotFound
from conveyor.pipeline import control, definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.git_source import mirrors
from conveyor.pipeline.catalog import git_source
from conveyor.runtime import Runtime
from conveyor.schedules import firing as schedule_firing
from conveyor.schedules import registry as schedules

RECENT = 5  # executions, builds or deployments a listing shows


@dataclass(frozen=True)
class Sender:
    team_id: str
    user_id: str
    user_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"

    @property
    def described(self) -> str:
        """How records name the sender (an execution's trigger detail, a deployment's description)."""
        return f"Slack user {self.user_name or self.user_id} ({self.team_id}/{self.user_id})"


Handler = Callable[[Runtime, Command, Sender], Reply]


def carry_out(rt: Runtime, command: Command, sender: Sender) -> Reply:
    return _HANDLERS[command.verb](rt, command, sender)


def _status(rt: Runtime, command: Command, _sender: Sender) -> Reply:
    if not command.args:
        lines = []
        for pipeline in definitions.list_pipelines(rt):
            latest = views.list_executions(rt, pipeline["name"], limit=1)
            said = f"{latest[0]['status']} `{latest[0]['pipelineExecutionId']}`" if latest else "never run"
            lines.append(f"*{pipeline['name']}*: {said}")
        return message("\n".join(lines) or "No pipelines are registered.")
    name = command.args[0]
    definitions.get_pipeline(rt, name)  # NotFound for an unknown pipeline
    latest = views.list_executions(rt, name, limit=1)
    if not latest:
        return message(f"*{name}* has never run.")
    execution = views.get_execution(rt, latest[0]["pipelineExecutionId"])
    lines = [f"*{name}* execution `{execution['pipelineExecutionId']}`: {execution['status']}"]
    waiting = []
    for stage in execution["stages"]:
        actions = ", ".join(f"{a['actionName']} {a['status'] or '—'}" for a in stage["actions"])
        lines.append(f"• {stage['stageName']}: {stage['status'] or 'not started'} ({actions})")
        waiting += [(stage["stageName"], a["actionName"]) for a in stage["actions"] if a.get("token")]
    blocks = [approval_buttons(name, stage, action) for stage, action in waiting]
    return message("\n".join(lines), *blocks)


def _run(rt: Runtime, command: Command, sender: Sender) -> Reply:
    name = command.args[0]
    revision = command.rest
    at = ""
    if revision and not is_commit(revision):
        branch, revision = revision, _branch_head(rt, name, revision)
        at = f" at {branch} ({revision[:12]})"
    elif revision:
        at = f" at {revision[:12]}"
    execution_id = pipelines.start_pipeline(rt, name, command.variables, revision or None, sender.described)
    return message(f"{sender.mention} started *{name}*{at}: execution `{execution_id}`", in_channel=True)


def _branch_head(rt: Runtime, pipeline: str, branch: str) -> str:
    sources = definitions.current_definition(rt, pipeline).source_actions()
    url = git_source(sources[0].configuration).url if len(sources) == 1 else ""
    if not url:
        raise InvalidRequest(f"pipeline {pipeline!r} does not have exactly one git source: give a commit, not a branch")
    return mirrors(rt, sources[0].configuration).resolve(url, branch=branch).sha


def _stop(rt: Runtime, command: Command, sender: Sender) -> Reply:
    execution_id = command.args[0]
    pipeline = views.get_execution(rt, execution_id)["pipelineName"]
    abandon = command.rest == "abandon"
    control.stop_execution(rt, pipeline, execution_id, abandon, f"by {sender.described}"[:200])
    how = "abandoned" if abandon else "stopping (actions in progress finish first)"
    return message(f"{sender.mention} stopped *{pipeline}* execution `{execution_id}`: {how}", in_channel=True)


def _answer(rt: Runtime, command: Command, sender: Sender) -> Reply:
    pipeline, stage, action = command.args
    status = "Approved" if command.verb is Verb.APPROVE else "Rejected"
    token = control.waiting_approval_token(rt, pipeline, stage, action)
    control.put_approval_result(rt, pipeline, stage, action, token, status, command.rest, sender.described)
    said = f": {command.rest}" if command.rest else ""
    return message(f"{sender.mention} {status.lower()} {action} in {stage} of *{pipeline}*{said}", in_channel=True)


def _builds(rt: Runtime, command: Command, _sender: Sender) -> Reply:
    project = command.args[0]
    rows = build_views.list_builds(rt, project, RECENT)
    if not rows:
        return message(f"Project *{project}* has no builds.")
    lines = [f"*{project}*, latest builds:"]
    for build in rows:
        lines.append(f"• #{build['buildNumber']} `{build['id']}`: {build['buildStatus']} ({build['currentPhase']})")
    return message("\n".join(lines))


def _deploy(rt: Runtime, command: Command, sender: Sender) -> Reply:
    application, group = command.args[:2]
    revision = command.args[2] if len(command.args) == 3 else ""
    description = f"deployed by {sender.described}"
    if revision.startswith("d-"):
        earlier = deployments.get_deployment(rt, revision)
        if (earlier["applicationName"], earlier["deploymentGroupName"]) != (application, group):
            raise InvalidRequest(
                f"deployment {revision} was of {earlier['applicationName']}/"
                f"{earlier['deploymentGroupName']}, not of {application}/{group}"
            )
        created = deployments.redeploy(rt, revision, description)
    else:
        created = deployments.create_deployment(
            rt,
            deployments.DeploymentRequest(
                application, group, _revision(rt, application, group, revision), description=description
            ),
        )
    return _deployment_started(sender, application, group, created, "deploying")


def _revision(rt: Runtime, application: str, group: str, revision: str) -> dict[str, Any]:
    if revision.startswith("s3://"):
        bucket, _, key = revision.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise InvalidRequest(f"{revision!r} is not s3://bucket/key")
        return {"revisionType": "S3", "s3Location": {"bucket": bucket, "key": key, "bundleType": bundle_type_of(key)}}
    if revision:
        raise InvalidRequest(f"{revision!r} is neither a deployment id (d-…) nor an S3 URL (s3://bucket/key)")
    current = get_deployment_group(rt, application, group).get("targetRevision")
    if current is None:
        raise NotFound(f"{application}/{group} has no current revision yet: name one (d-… or s3://bucket/key)")
    return dict(current)


def _rollback(rt: Runtime, command: Command, sender: Sender) -> Reply:
    application, group = command.args
    history = deployments.list_deployments(rt, application, group, limit=50)
    running = next((d for d in history if d["status"] not in _FINAL), None)
    if running is not None:
        deployments.stop_deployment(rt, running["deploymentId"], rollback=True)
        text = f"{sender.mention} stopped deployment `{running['deploymentId']}` of {application}/{group}, rolling back"
        return message(text, in_channel=True)
    earlier = _rollback_target(history)
    created = deployments.redeploy(rt, earlier["deploymentId"], f"rollback by {sender.described}")
    return _deployment_started(
        sender, application, group, created, f"rolling back to the revision of {earlier['deploymentId']}"
    )


_FINAL = {"Succeeded", "Failed", "Stopped"}


def _rollback_target(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The deployment whose revision a rollback deploys again (`history` newest first)."""
    succeeded = [d for d in history if d["status"] == "Succeeded"]
    if not succeeded:
        raise NotFound("no deployment of this group ever succeeded: there is nothing to roll back to")
    if history[0]["status"] != "Succeeded":
        return succeeded[0]  # the last known good revision, still the group's current one
    current = succeeded[0]["revision"]
    earlier = next((d for d in succeeded[1:] if d["revision"] != current), None)
    if earlier is None:
        raise NotFound("no earlier revision of this group succeeded: there is nothing to roll back to")
    return earlier


def _deployment_started(sender: Sender, application: str, group: str, created: dict[str, Any], doing: str) -> Reply:
    text = f"{sender.mention} started deployment `{created['deploymentId']}` of {application}/{group}: {doing}"
    return message(text, rollback_button(application, group), in_channel=True)


def _schedules(rt: Runtime, command: Command, sender: Sender) -> Reply:
    action = command.args[0]
    if action == "list":
        lines = [_schedule_line(s) for s in schedules.list_schedules(rt)]
        return message("\n".join(lines) or "No schedules are registered.")
    name = command.args[1]
    if action == "run":
        fired = schedule_firing.run_now(rt, name)
        started = fired["target"].get("pipelineExecutionId") or fired["target"].get("buildId")
        return message(f"{sender.mention} ran schedule *{name}* now: started `{started}`", in_channel=True)
    changed = schedules.pause_schedule(rt, name) if action == "pause" else schedules.resume_schedule(rt, name)
    said = "paused" if action == "pause" else "resumed"
    return message(f"{sender.mention} {said} schedule *{name}*\n{_schedule_line(changed)}", in_channel=True)


def _schedule_line(schedule: dict[str, Any]) -> str:
    target = schedule["target"]
    what = f"pipeline {target['pipelineName']}" if "pipelineName" in target else f"project {target['projectName']}"
    upcoming = schedule["nextFireTimes"][0] if schedule["nextFireTimes"] else "—"
    return (
        f"*{schedule['name']}* `{schedule['scheduleExpression']}` ({schedule['scheduleExpressionTimezone']}) → {what}: "
        f"{schedule['state']}, next {upcoming}"
    )


def _help(_rt: Runtime, _command: Command, _sender: Sender) -> Reply:
    return message(usage_text())


_HANDLERS: dict[Verb, Handler] = {
    Verb.HELP: _help,
    Verb.STATUS: _status,
    Verb.RUN: _run,
    Verb.STOP: _stop,
    Verb.APPROVE: _answer,
    Verb.REJECT: _answer,
    Verb.BUILDS: _builds,
    Verb.DEPLOY: _deploy,
    Verb.ROLLBACK: _rollback,
    Verb.SCHEDULES: _schedules,
}
