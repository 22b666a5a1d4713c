"""Build jobs: run one build on this worker, then report it to the pipeline action that started it."""

from __future__ import annotations

from conveyor.build import service as builds
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions import codebuild
from conveyor.runtime import Runtime
from jobs.runtime import Lease, run_dispatch


def run(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, lambda rt, build_id, lease: _run(rt, build_id, lease, attempt))


def _run(rt: Runtime, build_id: str, lease: Lease, attempt: int) -> None:
    build = builds.run_build(rt, build_id, attempt, on_runner=lambda runner: lease.on_lost(runner.stop))
    if build.action_execution_id is not None:
        declaration = pipelines.action_declaration(rt, build.action_execution_id)
        outcome = codebuild.outcome_of(build, declaration.output_artifacts)
        pipelines.complete_action(rt, build.action_execution_id, outcome)
