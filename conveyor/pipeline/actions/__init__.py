"""Action providers: how each kind of action starts, and how its work reports back.

Starting an action happens inside the transaction that advanced the execution: a starter writes the rows its work
needs and adds dispatches to the outbox. Providers that do their work themselves (a source fetch, an AWS call)
start with `queue_run`; the job then calls the provider's runner with an `ActionRun` and reports its
`ActionOutcome` through `service.complete_action`. An outcome still InProgress records nothing: the action waits on
(a Lambda action waits for its function's report). Providers whose work is another engine's (CodeBuild, Commands)
report when that work ends.
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.db.models import Build
from conveyor.pipeline.actions import (
    approval,
    cloudformation,
    codebuild,
    codedeploy,
    commands,
    git_source,
    lambda_invoke,
    s3_deploy,
    s3_source,
)
from conveyor.pipeline.actions.base import ActionOutcome, ActionRun, ActionStart
from conveyor.pipeline.definitions import action_in_context
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.runtime import Runtime

Starter = Callable[[ActionStart], None]
Runner = Callable[[Runtime, ActionRun], ActionOutcome | None]  # None: the action reports later, by itself

STARTERS: dict[tuple[str, str], Starter] = {
    ("Source", "CodeStarSourceConnection"): git_source.start,
    ("Source", "GitHub"): git_source.start,
    ("Source", "Git"): git_source.start,
    ("Build", "CodeBuild"): codebuild.start,
    ("Test", "CodeBuild"): codebuild.start,
    ("Approval", "Manual"): approval.start,
    ("Source", "S3"): s3_source.start,
    ("Deploy", "S3"): s3_deploy.start,
    ("Deploy", "CloudFormation"): cloudformation.start,
    ("Deploy", "CodeDeploy"): codedeploy.start,
    ("Invoke", "Lambda"): lambda_invoke.start,
    ("Compute", "Commands"): commands.start,
}

RUNNERS: dict[tuple[str, str], Runner] = {
    ("Source", "CodeStarSourceConnection"): git_source.fetch,
    ("Source", "GitHub"): git_source.fetch,
    ("Source", "Git"): git_source.fetch,
    ("Source", "S3"): s3_source.fetch,
    ("Deploy", "S3"): s3_deploy.deploy,
    ("Deploy", "CloudFormation"): cloudformation.deploy,
    ("Deploy", "CodeDeploy"): codedeploy.deploy,
    ("Invoke", "Lambda"): lambda_invoke.run,
}


def starter_for(declaration: ActionDeclaration) -> Starter:
    return STARTERS[(declaration.type_id.category, declaration.type_id.provider)]


def outcome_of_build(declaration: ActionDeclaration, build: Build) -> ActionOutcome:
    """What a finished build reports to the action that started it (CodeBuild, or Commands)."""
    if declaration.type_id.provider == "Commands":
        return commands.outcome_of(build, declaration)
    return codebuild.outcome_of(build, declaration.output_artifacts)


def run_action(rt: Runtime, action_execution_id: str) -> ActionOutcome | None:
    """Run the work of an action started with `queue_run` and return how it ended."""
    with rt.db.reader() as session:
        found = action_in_context(session, action_execution_id)
        execution = found.execution
        artifacts = {name: record for a in execution.actions for name, record in (a.output_artifacts or {}).items()}
        declaration = found.declaration
        run = ActionRun(
            action_execution_id=action_execution_id,
            execution_id=execution.id,
            pipeline_name=found.definition.name,
            declaration=declaration,
            configuration=dict(found.action.resolved_configuration or declaration.configuration),
            input_artifacts={name: artifacts[name] for name in declaration.input_artifacts if name in artifacts},
            source_revisions=dict(execution.source_revisions or {}),
        )
    return RUNNERS[(declaration.type_id.category, declaration.type_id.provider)](rt, run)


__all__ = [
    "ActionOutcome",
    "ActionRun",
    "ActionStart",
    "Runner",
    "Starter",
    "outcome_of_build",
    "run_action",
    "starter_for",
]
