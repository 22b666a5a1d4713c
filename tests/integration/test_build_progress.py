"""What a build's worker records of its progress: an attempt's beginning, its phases, its end; and the rehearsal of
those statements that a build worker runs before its first fork, which leaves nothing behind."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from conveyor.build import progress, projects
from conveyor.build.request import BuildResult
from conveyor.build.starts import start_build
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db.models import Build, BuildPhase, Dispatch
from conveyor.db.notify_models import StateEvent
from conveyor.errors import NotFound
from conveyor.runtime import Runtime

BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hello\n"


@pytest.fixture
def queued(rt: Runtime) -> str:
    """A build waiting in its queue (a project's build started on its own)."""
    projects.put_project(rt, json.dumps({"name": "progress", "source": {"buildspec": BUILDSPEC}}))
    with rt.transaction() as (session, outbox):
        return start_build(session, outbox, rt.settings, "progress", "test", {}).id


def phases(rt: Runtime, build_id: str) -> list[tuple[str, str | None]]:
    with rt.db.reader() as session:
        query = select(BuildPhase).where(BuildPhase.build_id == build_id).order_by(BuildPhase.id)
        return [(p.phase_type, p.phase_status) for p in session.scalars(query)]


def build_events(rt: Runtime, build_id: str) -> list[tuple[str, str]]:
    with rt.db.reader() as session:
        query = select(StateEvent).where(StateEvent.resource == build_id).order_by(StateEvent.id)
        return [(e.detail_type, e.state) for e in session.scalars(query)]


def test_a_new_attempt_begins_afresh_from_the_queue(rt: Runtime, queued: str) -> None:
    first = progress.begin_attempt(rt.db, queued, 1)
    recorder = progress.PhaseRecorder(rt.db, queued)
    recorder.phase_started(PhaseType.PROVISIONING)
    recorder.checkpoint()
    assert phases(rt, queued)[-1] == ("PROVISIONING", None)

    second = progress.begin_attempt(rt.db, queued, 2)  # the first attempt's worker was lost

    assert (first.attempt, second.attempt) == (1, 2)
    assert second.current_phase == "PROVISIONING"
    assert second.start_time is not None
    assert phases(rt, queued) == [("SUBMITTED", "SUCCEEDED"), ("QUEUED", "SUCCEEDED")]
    assert build_events(rt, queued) == [("CodeBuild Build State Change", "IN_PROGRESS")] * 2


def test_an_ended_build_is_handed_back_as_it_ended(rt: Runtime, queued: str) -> None:
    progress.begin_attempt(rt.db, queued, 1)
    recorder = progress.PhaseRecorder(rt.db, queued)
    progress.record_end(rt, queued, BuildResult(BuildStatus.SUCCEEDED), "logs/progress.log", recorder)

    again = progress.begin_attempt(rt.db, queued, 2)

    assert (again.status, again.attempt, again.log_key) == ("SUCCEEDED", 1, "logs/progress.log")
    with pytest.raises(NotFound):
        progress.begin_attempt(rt.db, "progress:no-such-build", 1)


def test_the_end_writes_the_phases_still_waiting_and_names_the_failed_one(rt: Runtime, queued: str) -> None:
    progress.begin_attempt(rt.db, queued, 1)
    recorder = progress.PhaseRecorder(rt.db, queued)
    recorder.phase_started(PhaseType.PROVISIONING)
    recorder.phase_ended(PhaseType.PROVISIONING, BuildStatus.SUCCEEDED, [])
    recorder.phase_started(PhaseType.BUILD)
    recorder.checkpoint()
    failure = {"statusCode": "COMMAND_EXECUTION_ERROR", "message": "exit status 3"}
    recorder.phase_ended(PhaseType.BUILD, BuildStatus.FAILED, [failure])
    recorder.phase_started(PhaseType.FINALIZING)
    recorder.phase_ended(PhaseType.FINALIZING, BuildStatus.SUCCEEDED, [])
    assert phases(rt, queued)[-1] == ("BUILD", None)  # what ended since the checkpoint waits for the end

    ended = progress.record_end(rt, queued, BuildResult(BuildStatus.FAILED), "logs/progress.log", recorder)

    assert ended.status == "FAILED"
    assert ended.status_reason == "BUILD: exit status 3"
    assert ended.end_time is not None
    assert phases(rt, queued)[2:] == [
        ("PROVISIONING", "SUCCEEDED"),
        ("BUILD", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert build_events(rt, queued)[-1] == ("CodeBuild Build State Change", "FAILED")


def test_the_rehearsal_leaves_nothing_behind(rt: Runtime) -> None:
    progress.rehearse(rt.db)
    progress.rehearse(rt.db)  # every worker start runs it again

    with rt.db.reader() as session:
        for table in (Build, BuildPhase, StateEvent, Dispatch):
            assert session.scalar(select(func.count()).select_from(table)) == 0, table.__name__
