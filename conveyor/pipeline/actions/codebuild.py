"""CodeBuild actions: a build (or, with `BatchEnabled`, a batch build) of the named project over the inputs.

The first input artifact (or `PrimarySource`) is the primary source; the others land beside it as secondary
sources. `EnvironmentVariables` win over the project's and the buildspec's. The build's artifact becomes the
action's first output artifact; its exported variables become the action's output variables. A batch's output
artifact is its combined artifact (`CombineArtifacts`), or else each output artifact is the artifact of the batch's
build whose identifier is its name.
"""

from __future__ import annotations

from typing import Any

from conveyor.build import starts
from conveyor.build.batches import submit_batch
from conveyor.build.project import variable_overrides
from conveyor.build.service import BuildInput, submit_build
from conveyor.build.status import BuildStatus
from conveyor.db.models import Build, BuildBatch
from conveyor.pipeline.actions.base import ActionConfigurationError, ActionOutcome, ActionStart
from conveyor.pipeline.status import ActionStatus


def start(context: ActionStart) -> None:
    declaration, configuration = context.declaration, context.configuration
    primary = configuration.get("PrimarySource") or declaration.input_artifacts[0]
    inputs = build_inputs(context, primary)
    try:
        overrides = variable_overrides(configuration.get("EnvironmentVariables") or "[]")
    except ValueError as exc:
        raise ActionConfigurationError(f"configuration EnvironmentVariables: {exc}") from None
    environment = {
        **webhook_variables(context.input_artifacts[primary]),
        **{v.name: v.value for v in overrides if v.type == "PLAINTEXT"},
    }
    secrets = [{"name": v.name, "value": v.value, "type": v.type} for v in overrides if v.type != "PLAINTEXT"]
    started: dict[str, Any] = {
        "initiator": f"codepipeline/{context.pipeline_name}",
        "inputs": inputs,
        "action_execution_id": context.action.id,
        "environment": environment,
        "secret_variables": secrets,
    }
    project = configuration["ProjectName"]
    if _yes(configuration.get("BatchEnabled")):
        combine = _yes(configuration.get("CombineArtifacts"))
        batch = submit_batch(context.session, context.outbox, project, combine_artifacts=combine, **started)
        context.action.external_execution_id = batch.id
        return
    queue_build(context, submit_build(context.session, context.settings, project, **started))


def build_inputs(context: ActionStart, primary: str) -> list[BuildInput]:
    """The action's input artifacts as a build's sources, the primary one first."""
    names = sorted(context.declaration.input_artifacts, key=lambda name: name != primary)
    return [
        BuildInput(
            name,
            context.input_artifacts[name]["key"],
            context.input_artifacts[name].get("revision"),
            context.input_artifacts[name].get("repository_url"),
        )
        for name in names
    ]


def queue_build(context: ActionStart, build: Build) -> None:
    """Make a submitted build the action's work and hand it to its compute type's queue."""
    context.action.external_execution_id = build.id
    starts.queue_build(context.outbox, build)


def _yes(value: str | None) -> bool:
    return str(value or "").lower() == "true"


def webhook_variables(source: dict[str, Any]) -> dict[str, str]:
    """CODEBUILD_WEBHOOK_* for a build whose primary source a push or a pull request delivered (none otherwise).

    A pull request's build also gets `CODEBUILD_SOURCE_VERSION` `pr/<number>`, as CodeBuild gives it.
    """
    if source.get("pull_request"):
        return _pull_request_variables(source["pull_request"])
    if source.get("push"):
        return _push_variables(source["push"])
    return {}


def _push_variables(push: dict[str, str]) -> dict[str, str]:
    ref = push["ref"]
    kind = "tag" if ref.startswith("refs/tags/") else "branch"
    name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
    variables = {
        "CODEBUILD_WEBHOOK_EVENT": "PUSH",
        "CODEBUILD_WEBHOOK_HEAD_REF": ref,
        "CODEBUILD_WEBHOOK_TRIGGER": f"{kind}/{name}",
    }
    if push.get("before"):
        variables["CODEBUILD_WEBHOOK_PREV_COMMIT"] = push["before"]
    if push.get("actor"):
        variables["CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID"] = push["actor"]
    return variables


def _pull_request_variables(pull_request: dict[str, Any]) -> dict[str, str]:
    trigger = f"pr/{pull_request['number']}"
    variables = {
        "CODEBUILD_WEBHOOK_EVENT": str(pull_request["event"]),
        "CODEBUILD_WEBHOOK_HEAD_REF": f"refs/heads/{pull_request['head_branch']}",
        "CODEBUILD_WEBHOOK_BASE_REF": f"refs/heads/{pull_request['base_branch']}",
        "CODEBUILD_WEBHOOK_TRIGGER": trigger,
        "CODEBUILD_SOURCE_VERSION": trigger,
    }
    if pull_request.get("actor"):
        variables["CODEBUILD_WEBHOOK_ACTOR_ACCOUNT_ID"] = str(pull_request["actor"])
    return variables


def outcome_of(build: Build, declared_outputs: tuple[str, ...]) -> ActionOutcome:
    """What a finished build reports to the action that started it.

    The action's first output artifact is the build's primary artifact; each further one is the secondary artifact
    whose identifier is its name (CodePipeline's rule).
    """
    if build.status != BuildStatus.SUCCEEDED.value:
        reason = build.status_reason or f"build {build.status}"
        return ActionOutcome(
            ActionStatus.FAILED, summary=f"Build {build.id} {build.status}: {reason}", error_code="JobFailed"
        )
    artifact = build.artifact or {}
    stored = {
        **({declared_outputs[0]: artifact} if declared_outputs and artifact else {}),
        **(artifact.get("secondary") or {}),
    }
    missing = [name for name in declared_outputs if name not in stored]
    if missing:
        which = "artifacts" if not artifact else f"secondary artifact {missing[0]}"
        return ActionOutcome(
            ActionStatus.FAILED,
            error_code="JobFailed",
            summary=f"the action declares output artifact {missing[0]} but the buildspec has no {which}",
        )
    outputs = {
        name: {"key": stored[name]["key"], "revision": build.resolved_source_version} for name in declared_outputs
    }
    return ActionOutcome(
        ActionStatus.SUCCEEDED,
        summary=f"Build {build.id} SUCCEEDED",
        output_artifacts=outputs,
        output_variables=dict(build.exported_variables),
    )


def outcome_of_batch(
    batch: BuildBatch, builds: list[tuple[str | None, str, dict[str, Any] | None]], declared_outputs: tuple[str, ...]
) -> ActionOutcome:
    """What a finished batch reports to its action; `builds` are its builds' (identifier, status, artifact)."""
    if batch.status != BuildStatus.SUCCEEDED.value:
        reason = batch.status_reason or f"batch {batch.status}"
        return ActionOutcome(
            ActionStatus.FAILED, summary=f"Batch {batch.id} {batch.status}: {reason}", error_code="JobFailed"
        )
    if batch.combine_artifacts:
        stored = {declared_outputs[0]: batch.artifact} if declared_outputs and batch.artifact else {}
    else:
        stored = {identifier: artifact for identifier, _, artifact in builds if identifier and artifact}
    missing = [name for name in declared_outputs if name not in stored]
    if missing:
        where = (
            "the batch combined no artifacts" if batch.combine_artifacts else f"no build of the batch is {missing[0]!r}"
        )
        return ActionOutcome(
            ActionStatus.FAILED,
            error_code="JobFailed",
            summary=f"the action declares output artifact {missing[0]} but {where}",
        )
    outputs = {
        name: {"key": stored[name]["key"], "revision": batch.resolved_source_version} for name in declared_outputs
    }
    return ActionOutcome(ActionStatus.SUCCEEDED, summary=f"Batch {batch.id} SUCCEEDED", output_artifacts=outputs)
