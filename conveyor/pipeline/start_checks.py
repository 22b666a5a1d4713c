"""What a start asks of a pipeline, checked against its definition (pure): the source revisions it names, for
source actions the pipeline has, and variable overrides it declares."""

from __future__ import annotations

from typing import Any

from conveyor.errors import InvalidRequest
from conveyor.pipeline.spec import PipelineDefinition


def revision_overrides(definition: PipelineDefinition, revision: str | None) -> dict[str, Any]:
    """The source revisions a start asks for: `VALUE` for a pipeline's one source action, or `ACTION=VALUE` for
    one or more of them (comma-separated); a commit id for a git source, an object version id for an S3 source."""
    if not revision:
        return {}
    sources = {s.name for s in definition.source_actions()}
    items = [item.strip() for item in revision.split(",")]
    if len(items) == 1 and "=" not in items[0]:
        if len(sources) != 1:
            raise InvalidRequest("this pipeline has several source actions: give the revision as ACTION=SHA")
        return {next(iter(sources)): {"commit": items[0], "ref": None}}
    overrides: dict[str, Any] = {}
    for item in items:
        action, equals, value = item.partition("=")
        if not equals or not action or not value:
            raise InvalidRequest(f"revision {item!r} is not ACTION=VALUE")
        if action not in sources:
            raise InvalidRequest(f"no source action named {action!r} in pipeline {definition.name!r}")
        if action in overrides:
            raise InvalidRequest(f"source action {action!r} is given two revisions")
        overrides[action] = {"commit": value, "ref": None}
    return overrides


def check_variables(definition: PipelineDefinition, variables: dict[str, str]) -> None:
    """Variable overrides must be declared by the pipeline and not empty."""
    declared = {v["name"] for v in definition.document.get("variables", [])}
    unknown = sorted(set(variables) - declared)
    if unknown:
        raise InvalidRequest(f"pipeline {definition.name!r} declares no variable named {', '.join(unknown)}")
    empty = sorted(name for name, value in variables.items() if not value)
    if empty:
        raise InvalidRequest(f"pipeline variables must not be empty: {', '.join(empty)}")
