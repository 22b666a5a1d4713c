"""Phase records of a running build: what waits in memory, when it is written, and that none is lost at the end."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from conveyor.archives import write_zip
from conveyor.build.phase_records import PhaseRecorder
from conveyor.build.service import BuildInput, run_build, submit_build
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db.models import Build
from conveyor.db.notify_models import StateEvent
from conveyor.runtime import Runtime

P = PhaseType
SUCCEEDED = BuildStatus.SUCCEEDED


def submitted(rt: Runtime, inputs: list[BuildInput] | None = None) -> str:
    with rt.db.session() as session:
        return submit_build(session, rt.settings, "records", initiator="test", inputs=inputs or []).id


def recorded(rt: Runtime, build_id: str) -> list[tuple[str, str | None, bool]]:
    """(phase, status, whether it has ended) of each phase on record, and the build's current phase last."""
    with rt.db.reader() as session:
        build = session.get(Build, build_id)
        assert build is not None
        phases = [(p.phase_type, p.phase_status, p.end_time is not None) for p in build.phases]
        return [*phases, ("current", build.current_phase, False)]


def quick_recorder(rt: Runtime, build_id: str) -> PhaseRecorder:
    """A recorder that would not write for lack of a recent write (on the slowest machine) during a test."""
    recorder = PhaseRecorder(rt.db, build_id)
    recorder.FLUSH_SECONDS = 30
    return recorder


def test_the_quick_steps_before_commands_wait_for_the_checkpoint(rt: Runtime) -> None:
    build_id = submitted(rt)
    recorder = quick_recorder(rt, build_id)

    recorder.phase_started(P.PROVISIONING)
    recorder.phase_ended(P.PROVISIONING, SUCCEEDED, [])
    recorder.phase_started(P.DOWNLOAD_SOURCE)
    assert recorded(rt, build_id) == [
        ("SUBMITTED", "SUCCEEDED", True),
        ("QUEUED", None, False),
        ("current", "QUEUED", False),
    ]

    recorder.checkpoint()
    assert recorded(rt, build_id)[2:] == [
        ("PROVISIONING", "SUCCEEDED", True),
        ("DOWNLOAD_SOURCE", None, False),
        ("current", "DOWNLOAD_SOURCE", False),
    ]


def test_phases_and_their_events_are_written_in_the_order_they_ran(rt: Runtime) -> None:
    build_id = submitted(rt)
    recorder = quick_recorder(rt, build_id)
    for phase in (P.PROVISIONING, P.DOWNLOAD_SOURCE, P.INSTALL, P.PRE_BUILD):
        recorder.phase_started(phase)
        recorder.phase_ended(phase, SUCCEEDED, [])
    recorder.phase_started(P.BUILD)
    recorder.checkpoint()
    recorder.phase_ended(P.BUILD, BuildStatus.FAILED, [{"statusCode": "COMMAND_EXECUTION_ERROR", "message": "no"}])
    recorder.phase_started(P.POST_BUILD)
    recorder.phase_ended(P.POST_BUILD, SUCCEEDED, [])
    recorder.checkpoint()

    ran = ["PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"]
    assert [phase for phase, _, _ in recorded(rt, build_id)] == ["SUBMITTED", "QUEUED", *ran, "current"]
    assert recorded(rt, build_id)[6] == ("BUILD", "FAILED", True)
    with rt.db.reader() as session:
        events = session.scalars(
            select(StateEvent).where(StateEvent.resource == build_id).order_by(StateEvent.id)
        ).all()
    assert [(e.detail["completed-phase"], e.state) for e in events] == [
        *((phase, "SUCCEEDED") for phase in ran[:4]),
        ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"),
    ]
    assert events[4].detail["completed-phase-context"] == ["COMMAND_EXECUTION_ERROR: no"]


def test_the_last_records_are_written_in_the_transaction_that_ends_the_build(rt: Runtime) -> None:
    build_id = submitted(rt)
    recorder = quick_recorder(rt, build_id)
    recorder.phase_started(P.FINALIZING)
    recorder.phase_ended(P.FINALIZING, SUCCEEDED, [])

    def end_that_fails() -> None:
        with rt.db.session() as session:
            recorder.write(session.connection())
            raise RuntimeError("the build's end was not recorded")

    with pytest.raises(RuntimeError, match="not recorded"):
        end_that_fails()

    assert [phase for phase, _, _ in recorded(rt, build_id)] == ["SUBMITTED", "QUEUED", "current"]


def build_with_source(rt: Runtime, tmp_path: Path) -> str:
    source = tmp_path / "source"
    source.mkdir()
    (source / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n")
    write_zip(tmp_path / "source.zip", [(source / "buildspec.yml", "buildspec.yml")])
    rt.blobs.put_file("sources/records.zip", tmp_path / "source.zip")
    return submitted(rt, [BuildInput("src", "sources/records.zip")])


def test_a_build_whose_log_cannot_be_stored_keeps_its_phases_on_record(rt: Runtime, tmp_path: Path) -> None:
    build_id = build_with_source(rt, tmp_path)
    (tmp_path / "blobs" / "logs").write_text("a file where the logs' folder belongs")

    with pytest.raises(NotADirectoryError):
        run_build(rt, build_id, 1)

    phases = recorded(rt, build_id)
    assert [phase for phase, _, _ in phases][-5:] == [
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
        "current",
    ]
    assert all(status == "SUCCEEDED" and ended for _, status, ended in phases[:-1])
    assert phases[-1] == ("current", "FINALIZING", False)


def test_a_new_attempt_records_its_phases_afresh_and_ends_the_build(rt: Runtime, tmp_path: Path) -> None:
    build_id = build_with_source(rt, tmp_path)
    logs = tmp_path / "blobs" / "logs"
    logs.write_text("a file where the logs' folder belongs")
    with pytest.raises(NotADirectoryError):
        run_build(rt, build_id, 1)
    with rt.db.reader() as session:
        first = session.get(Build, build_id)
        assert first is not None
        assert first.phases[1].end_time is not None
        queued_end = first.phases[1].end_time
    logs.unlink()

    finished = run_build(rt, build_id, 2)

    assert (finished.status, finished.attempt, finished.status_reason) == ("SUCCEEDED", 2, None)
    phases = [(phase, status) for phase, status, _ in recorded(rt, build_id)]
    assert phases == [
        ("SUBMITTED", "SUCCEEDED"),
        ("QUEUED", "SUCCEEDED"),
        *((name, "SUCCEEDED") for name in ("PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "PRE_BUILD", "BUILD")),
        *((name, "SUCCEEDED") for name in ("POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING")),
        ("COMPLETED", None),
        ("current", "COMPLETED"),
    ]
    with rt.db.reader() as session:
        again = session.get(Build, build_id)
        assert again is not None
        assert again.phases[1].end_time == queued_end  # QUEUED ended when the first attempt began
    assert rt.blobs.get_bytes(finished.log_key or "").decode().count("Attempt 2:") == 1


def test_a_failed_build_gives_the_first_failed_phase_as_its_reason(rt: Runtime, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    spec = "version: 0.2\nphases:\n  pre_build:\n    on-failure: CONTINUE\n    commands:\n      - exit 3\n"
    (source / "buildspec.yml").write_text(spec + "  build:\n    commands:\n      - exit 4\n")
    write_zip(tmp_path / "source.zip", [(source / "buildspec.yml", "buildspec.yml")])
    rt.blobs.put_file("sources/failing.zip", tmp_path / "source.zip")

    finished = run_build(rt, submitted(rt, [BuildInput("src", "sources/failing.zip")]), 1)

    assert finished.status == "FAILED"
    assert finished.status_reason == "PRE_BUILD: Error while executing command: exit 3. Reason: exit status 3"
