"""Locking an execution for change reads where it stands with one statement, on SQLite and PostgreSQL: each
execution gets the definition of its own pipeline version, and unknown ids are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from conveyor.errors import NotFound
from conveyor.pipeline import definitions, gates
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.actions.base import ActionOutcome
from conveyor.pipeline.status import ActionStatus
from conveyor.runtime import Runtime
from jobs.runtime import make_runtime, prepare
from tests.support.approvals import gated_pipeline, token
from tests.support.gitrepo import GitRepo


def _stage_names(rt: Runtime, execution_id: str) -> list[str]:
    with rt.db.session() as session:
        return [stage.name for stage in gates.lock_execution(session, execution_id).definition.stages]


def test_each_execution_is_locked_with_the_definition_of_its_own_version(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("versions", repo.url))
    first = pipelines.start_pipeline(rt, "versions")
    assert _stage_names(rt, first) == ["Source", "Gate", "Release"]  # version 1 is parsed and kept now
    updated = gated_pipeline("versions", repo.url).replace("name: Release", "name: Ship-it")
    definitions.update_pipeline(rt, "versions", updated)
    second = pipelines.start_pipeline(rt, "versions")
    assert _stage_names(rt, second) == ["Source", "Gate", "Ship-it"]
    assert _stage_names(rt, first) == ["Source", "Gate", "Release"]


def test_a_kept_definition_is_never_served_for_another_database(
    rt: Runtime, repo: GitRepo, tmp_path: Path, run_jobs: Any
) -> None:
    """Version ids start at 1 in every database: the parsed definitions kept per process are kept per database."""
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("same-name", repo.url))
    assert _stage_names(rt, pipelines.start_pipeline(rt, "same-name"))[-1] == "Release"
    other_settings = replace(rt.settings, database_url=f"sqlite:///{tmp_path / 'other.db'}")
    prepare(other_settings)
    other = make_runtime(other_settings)
    try:
        text = gated_pipeline("same-name", repo.url).replace("name: Release", "name: Elsewhere")
        definitions.create_pipeline(other, text)
        assert _stage_names(other, pipelines.start_pipeline(other, "same-name"))[-1] == "Elsewhere"
    finally:
        other.db.dispose()


def test_unknown_executions_and_actions_are_not_found(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("known", repo.url))
    execution_id = pipelines.start_pipeline(rt, "known")
    assert _stage_names(rt, execution_id) == ["Source", "Gate", "Release"]  # a known id is found and locked
    with pytest.raises(NotFound, match="no pipeline execution 00000000"):
        _stage_names(rt, "00000000-0000-0000-0000-000000000000")
    outcome = ActionOutcome(ActionStatus.SUCCEEDED)
    with pytest.raises(NotFound, match="no action execution 00000000"):
        pipelines.complete_action(rt, "00000000-0000-0000-0000-000000000000", outcome)


def test_completing_an_action_records_it_once(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("once", repo.url, mode="PARALLEL"))
    execution_id = pipelines.start_pipeline(rt, "once")
    run_jobs()
    with rt.db.session() as session:
        review = gates.lock_execution(session, execution_id).execution.actions[-1]
    assert (review.action_name, review.status) == ("Review", "InProgress")
    assert token(rt, execution_id, "Gate", "Review")
    done = ActionOutcome(ActionStatus.SUCCEEDED, summary="by hand")
    assert pipelines.complete_action(rt, review.id, done)
    assert not pipelines.complete_action(rt, review.id, done)  # already ended: nothing changes
    run_jobs()
    with rt.db.session() as session:
        actions = gates.lock_execution(session, execution_id).execution.actions
    assert [(a.action_name, a.status) for a in actions] == [
        ("Source", "Succeeded"),
        ("Review", "Succeeded"),
        ("Ship", "InProgress"),
    ]
