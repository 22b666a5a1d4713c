"""Registering pipelines: versioned definitions and the repository index that webhooks look up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from conveyor.db.models import (
    ActionExecution,
    Pipeline,
    PipelineExecution,
    PipelineVersion,
    SourceSubscription,
    utcnow,
)
from conveyor.db.poll_models import SourcePoll
from conveyor.errors import Conflict, NotFound
from conveyor.pipeline.catalog import GIT_SOURCE_PROVIDERS, git_source
from conveyor.pipeline.secrets import keep_secrets, masked_document
from conveyor.pipeline.spec import ActionDeclaration, PipelineDefinition, from_document, parse_pipeline
from conveyor.runtime import Runtime


def create_pipeline(rt: Runtime, text: str, source: str = "pipeline") -> dict[str, Any]:
    """Register a new pipeline at version 1 (CreatePipeline); its name must be free."""
    definition = parse_pipeline(text, source)
    with rt.db.session() as session:
        if _find(session, definition.name) is not None:
            raise Conflict(f"a pipeline named {definition.name!r} already exists; update it instead")
        pipeline = Pipeline(name=definition.name, version=1, pipeline_type=definition.pipeline_type)
        session.add(pipeline)
        session.flush()
        _save_version(session, pipeline, definition)
        return describe(pipeline, definition)


def update_pipeline(rt: Runtime, name: str, text: str, source: str = "pipeline") -> dict[str, Any]:
    """Save a new version (UpdatePipeline); running executions keep the version they started with. A secret sent
    back masked, as `get_pipeline` shows it, keeps its value (`conveyor.pipeline.secrets`)."""
    definition = parse_pipeline(text, source)
    if definition.name != name:
        raise Conflict(f"the definition is named {definition.name!r}, not {name!r}: a pipeline cannot be renamed")
    with rt.db.session() as session:
        pipeline = _find(session, name, for_update=True)
        if pipeline is None:
            raise NotFound(f"no pipeline named {name!r}")
        before = load_definition(session, pipeline.id, pipeline.version).document
        kept = keep_secrets(definition.document, before)
        if kept != definition.document:
            definition = from_document(kept)
        pipeline.version += 1
        pipeline.pipeline_type = definition.pipeline_type
        pipeline.updated_at = utcnow()
        _save_version(session, pipeline, definition)
        return describe(pipeline, definition)


def get_pipeline(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        pipeline = find_pipeline(session, name)
        definition = load_definition(session, pipeline.id, pipeline.version)
        return describe(pipeline, definition, polled_sources(session, pipeline.id, definition))


def current_definition(rt: Runtime, name: str) -> PipelineDefinition:
    """The definition of a pipeline's current version, secrets included: for Conveyor's own use, never to show."""
    with rt.db.reader() as session:
        pipeline = find_pipeline(session, name)
        return load_definition(session, pipeline.id, pipeline.version)


def list_pipelines(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        rows = session.scalars(select(Pipeline).order_by(Pipeline.name))
        return [
            {
                "name": p.name,
                "version": p.version,
                "pipelineType": p.pipeline_type,
                "created": p.created_at.isoformat(),
                "updated": p.updated_at.isoformat(),
            }
            for p in rows
        ]


def load_definition(session: Session, pipeline_id: int, version: int) -> PipelineDefinition:
    version_id = session.scalars(
        select(PipelineVersion.id).where(PipelineVersion.pipeline_id == pipeline_id, PipelineVersion.version == version)
    ).one()
    return definition_of_version(session, version_id)


_DEFINITIONS: dict[tuple[str, int], PipelineDefinition] = {}  # saved versions never change: keep parsed ones
_KEPT = 256


def definition_of_version(session: Session, version_id: int) -> PipelineDefinition:
    """The parsed definition of a saved version (a `pipeline_versions` row id, never reused in a database)."""
    key = (str(session.get_bind().engine.url), version_id)
    definition = _DEFINITIONS.get(key)
    if definition is None:
        definition = from_document(session.get_one(PipelineVersion, version_id).definition)
        if len(_DEFINITIONS) >= _KEPT:
            _DEFINITIONS.pop(next(iter(_DEFINITIONS)))
        _DEFINITIONS[key] = definition
    return definition


@dataclass(frozen=True)
class ActionInContext:
    """An action execution with its execution and the declaration from the execution's own pipeline version."""

    action: ActionExecution
    execution: PipelineExecution
    definition: PipelineDefinition
    declaration: ActionDeclaration


def action_in_context(session: Session, action_execution_id: str) -> ActionInContext:
    action = session.get(ActionExecution, action_execution_id)
    if action is None:
        raise NotFound(f"no action execution {action_execution_id}")
    execution = session.get_one(PipelineExecution, action.execution_id)
    definition = load_definition(session, execution.pipeline_id, execution.pipeline_version)
    return ActionInContext(
        action, execution, definition, definition.stage(action.stage_name).action(action.action_name)
    )


def find_pipeline(session: Session, name: str) -> Pipeline:
    pipeline = _find(session, name)
    if pipeline is None:
        raise NotFound(f"no pipeline named {name!r}")
    return pipeline


def describe(
    pipeline: Pipeline, definition: PipelineDefinition, polls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The pipeline as get-pipeline shows it: the declaration (its secrets masked) with its version, and metadata
    (with `polledSources` when given)."""
    metadata = {"created": pipeline.created_at.isoformat(), "updated": pipeline.updated_at.isoformat()}
    return {
        "pipeline": {**masked_document(definition.document), "version": pipeline.version},
        "metadata": {**metadata, **({"polledSources": polls} if polls else {})},
        "disabledTransitions": pipeline.disabled_transitions or {},  # by the stage whose inbound transition it is
    }


def polled_sources(session: Session, pipeline_id: int, definition: PipelineDefinition) -> list[dict[str, Any]]:
    """What the last look at each source that polls for changes found (`conveyor.triggers.polling`)."""
    polled = [action.name for action in definition.polled_source_actions()]
    if not polled:
        return []
    states = {
        s.action_name: s for s in session.scalars(select(SourcePoll).where(SourcePoll.pipeline_id == pipeline_id))
    }
    return [_poll_view(name, states.get(name)) for name in polled]


def _poll_view(action_name: str, state: SourcePoll | None) -> dict[str, Any]:
    return {
        "actionName": action_name,
        "revision": state.revision if state else None,  # None: not looked at yet, or never read
        "changedAt": state.seen_at.isoformat() if state and state.seen_at else None,
        "checkedAt": state.checked_at.isoformat() if state else None,
        "error": state.error if state else None,
    }


def _find(session: Session, name: str, *, for_update: bool = False) -> Pipeline | None:
    query = select(Pipeline).where(Pipeline.name == name)
    if for_update:
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE: see conveyor.db.lock
    return session.scalars(query).one_or_none()


def _save_version(session: Session, pipeline: Pipeline, definition: PipelineDefinition) -> None:
    session.add(PipelineVersion(pipeline_id=pipeline.id, version=pipeline.version, definition=definition.document))
    session.execute(delete(SourceSubscription).where(SourceSubscription.pipeline_id == pipeline.id))
    for action in definition.source_actions():
        if action.type_id.provider not in GIT_SOURCE_PROVIDERS:
            continue
        source = git_source(action.configuration)
        for key in sorted(source.repository_keys()):
            session.add(SourceSubscription(pipeline_id=pipeline.id, action_name=action.name, repository_key=key))
