"""Schedules on real SQL (SQLite and PostgreSQL): saving them, firing due slots into real pipeline executions and
builds (worked by an RQ worker on real Redis), missed slots, pause and resume, run-now and the history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from conveyor.build import views as build_views
from conveyor.db.models import Build, Dispatch, PipelineExecution
from conveyor.db.schedule_models import ScheduleFiring
from conveyor.errors import Conflict, NotFound, SpecError
from conveyor.pipeline import definitions, views
from conveyor.runtime import Runtime
from conveyor.schedules import firing, registry
from conveyor.schedules.engine import FiringStatus
from conveyor.schedules.firing import fire_due
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline
from tests.support.schedules import T0, build_schedule, janitor_project, pipeline_schedule, release_pipeline

HOUR = timedelta(hours=1)
ONE = T0.replace(minute=0) + HOUR  # the first hourly slot after T0: 01:00


def count(rt: Runtime, model: Any) -> int:
    with rt.db.reader() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def problems_of(raised: pytest.ExceptionInfo[SpecError]) -> dict[str, str]:
    return {p.path: p.message for p in raised.value.problems}


def test_a_due_slot_starts_an_execution_triggered_by_the_schedule(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    sha = release_pipeline(rt, repo)
    target = {"pipelineName": "release", "variables": {"DEPLOY_ENV": "prod"}, "revision": sha}
    created = registry.create_schedule(rt, {**pipeline_schedule("hourly"), "target": target}, now=T0)
    assert created["nextFireTimes"][:2] == ["2026-01-01T01:00:00.000Z", "2026-01-01T02:00:00.000Z"]

    assert fire_due(rt, now=ONE - timedelta(seconds=1)) == []
    [fired] = fire_due(rt, now=ONE + timedelta(seconds=2))
    assert (fired.schedule, fired.slot, fired.status) == ("hourly", ONE, FiringStatus.STARTED)
    assert fire_due(rt, now=ONE + timedelta(seconds=3)) == []  # the slot is spent

    execution = views.get_execution(rt, fired.target_id or "")
    assert execution["trigger"] == {
        "triggerType": "Schedule",
        "triggerDetail": "schedule hourly, slot 2026-01-01T01:00:00.000Z",
    }
    assert execution["variables"] == {"DEPLOY_ENV": "prod"}
    assert execution["sourceRevisions"][0]["revisionId"] == sha
    assert registry.get_schedule(rt, "hourly")["nextFireTimes"][0] == "2026-01-01T02:00:00.000Z"

    run_jobs()
    [entry] = firing.history(rt, "hourly")
    assert entry["trigger"] == "schedule"
    assert entry["slot"] == "2026-01-01T01:00:00.000Z"
    assert entry["status"] == "STARTED"
    assert entry["target"] == {"pipelineName": "release", "pipelineExecutionId": fired.target_id}
    assert entry["targetStatus"] == "Succeeded"


def test_a_build_project_schedule_starts_a_build_with_no_source(rt: Runtime, run_jobs: Any) -> None:
    janitor_project(rt)
    registry.create_schedule(rt, build_schedule("cleanup", "rate(30 minutes)"), now=T0)
    [fired] = fire_due(rt, now=T0 + timedelta(minutes=30, seconds=1))
    assert fired.target_id
    assert fired.target_id.startswith("janitor:")
    run_jobs()
    build = build_views.get_build(rt, fired.target_id)
    assert build["buildStatus"] == "SUCCEEDED", build
    assert build["initiator"] == "schedule/cleanup"
    assert "keeping 7 days for schedule/cleanup" in build_views.build_log(rt, fired.target_id)
    assert firing.history(rt, "cleanup")[0]["target"] == {"projectName": "janitor", "buildId": fired.target_id}
    assert firing.history(rt, "cleanup")[0]["targetStatus"] == "SUCCEEDED"


def test_after_downtime_a_missed_slot_runs_once_or_is_skipped_as_each_schedule_says(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("catch-up", missed="run-once"), now=T0)
    registry.create_schedule(rt, pipeline_schedule("no-catch-up", missed="skip"), now=T0)
    later = ONE + 3 * HOUR + timedelta(minutes=30)  # 04:30: the slots 01:00 to 04:00 passed unfired

    fired = {f.schedule: f for f in fire_due(rt, now=later)}
    assert fired["catch-up"].status is FiringStatus.STARTED
    assert fired["no-catch-up"].status is FiringStatus.SKIPPED
    assert fired["no-catch-up"].target_id is None
    assert count(rt, PipelineExecution) == 1
    for name in ("catch-up", "no-catch-up"):
        assert registry.get_schedule(rt, name)["nextFireTimes"][0] == "2026-01-01T05:00:00.000Z"
    [ran] = firing.history(rt, "catch-up")
    assert ran["slot"] == "2026-01-01T01:00:00.000Z"
    assert ran["message"] == (
        "slot 2026-01-01T01:00:00+00:00 and 3 later slots passed while no scheduler ran: ran once for them"
    )
    [skipped] = firing.history(rt, "no-catch-up")
    assert (skipped["status"], skipped["targetStatus"]) == ("SKIPPED", None)
    assert skipped["message"].endswith("skipped, as the schedule says")
    assert fire_due(rt, now=later) == []


def test_a_paused_schedule_fires_nothing_and_resuming_counts_from_now(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("paused"), now=T0)
    paused = registry.pause_schedule(rt, "paused")
    assert (paused["state"], paused["nextFireTimes"]) == ("DISABLED", [])
    assert registry.pause_schedule(rt, "paused")["state"] == "DISABLED"  # again: nothing changes
    assert fire_due(rt, now=ONE + 5 * HOUR) == []

    resumed = registry.resume_schedule(rt, "paused", now=ONE + 5 * HOUR + timedelta(minutes=10))
    assert resumed["state"] == "ENABLED"
    assert resumed["nextFireTimes"][0] == "2026-01-01T07:00:00.000Z"  # the slots while paused never fire
    assert fire_due(rt, now=ONE + 5 * HOUR + timedelta(minutes=20)) == []
    assert firing.history(rt, "paused") == []


def test_run_now_starts_at_once_even_when_paused_and_leaves_the_slots_alone(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("manual", state="DISABLED"), now=T0)
    answer = firing.run_now(rt, "manual", now=T0 + timedelta(minutes=1))
    assert (answer["trigger"], answer["slot"], answer["status"]) == ("run-now", None, "STARTED")
    execution = views.get_execution(rt, answer["target"]["pipelineExecutionId"])
    assert execution["trigger"]["triggerDetail"] == "schedule manual, run now"
    again = firing.run_now(rt, "manual", now=T0 + timedelta(minutes=2))  # many run-nows: no slot to clash on
    assert again["firingId"] > answer["firingId"]
    assert registry.get_schedule(rt, "manual")["nextFireTimes"] == []
    assert [f["firingId"] for f in firing.history(rt, "manual")] == [again["firingId"], answer["firingId"]]
    with pytest.raises(NotFound, match="no schedule named 'absent'"):
        firing.run_now(rt, "absent")


def test_a_target_that_cannot_start_fails_the_firing_with_the_reason_and_leaves_nothing(
    rt: Runtime, repo: GitRepo
) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("stale"), now=T0)
    # the pipeline drops the variable the schedule sets
    definitions.update_pipeline(rt, "release", as_yaml(pipeline("release", repo.url, pipelineType="V2")))
    dispatches = count(rt, Dispatch)

    [fired] = fire_due(rt, now=ONE + timedelta(seconds=1))
    assert (fired.status, fired.target_id) == (FiringStatus.FAILED, None)
    assert (count(rt, PipelineExecution), count(rt, Dispatch)) == (0, dispatches)
    [entry] = firing.history(rt, "stale")
    assert entry["message"] == "pipeline 'release' declares no variable named DEPLOY_ENV"
    assert registry.get_schedule(rt, "stale")["nextFireTimes"][0] == "2026-01-01T02:00:00.000Z"  # the slot is spent

    with pytest.raises(Conflict, match="could not start pipeline 'release': pipeline 'release' declares no variable"):
        firing.run_now(rt, "stale")
    assert [f["status"] for f in firing.history(rt, "stale")] == ["FAILED", "FAILED"]  # kept, though refused
    assert count(rt, PipelineExecution) == 0


def test_saving_checks_the_target_and_the_expression_against_the_database(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    janitor_project(rt)
    janitor_project(rt, "from-source", buildspec="ci/build.yml")
    cases = [
        ({"target": {"pipelineName": "absent"}}, "target.pipelineName", "no pipeline named 'absent'"),
        ({"target": {"pipelineName": "release", "variables": {"DEPLOY_ENV": ""}}}, "target", "must not be empty"),
        (
            {"target": {"pipelineName": "release", "variables": {"NOPE": "1"}}},
            "target",
            "pipeline 'release' declares no variable named NOPE",
        ),
        (
            {"target": {"pipelineName": "release", "revision": "Build=abc"}},
            "target",
            "no source action named 'Build'",
        ),
        ({"target": {"projectName": "absent"}}, "target.projectName", "no build project 'absent': register it first"),
        ({"target": {"projectName": "from-source"}}, "target", "reads its buildspec from a source"),
        ({"scheduleExpression": "cron(0 12 1 1 ? 2025)"}, "scheduleExpression", "never fires after 2026-01-01"),
    ]
    for change, path, message in cases:
        with pytest.raises(SpecError) as raised:
            registry.create_schedule(rt, {**pipeline_schedule("checked"), **change}, now=T0)
        assert message in problems_of(raised)[path], change
    assert registry.list_schedules(rt) == []  # nothing half-created

    registry.create_schedule(rt, pipeline_schedule("taken"), now=T0)
    with pytest.raises(Conflict, match="a schedule named 'taken' already exists"):
        registry.create_schedule(rt, pipeline_schedule("taken"), now=T0)


def test_an_update_replaces_the_definition_and_retimes_only_when_the_timing_changes(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    janitor_project(rt)
    registry.create_schedule(rt, pipeline_schedule("evolving"), now=T0)
    body = pipeline_schedule("evolving", description="now documented")
    same = registry.update_schedule(rt, "evolving", body, now=T0 + 5 * HOUR)
    assert same["description"] == "now documented"
    assert same["nextFireTimes"][0] == "2026-01-01T01:00:00.000Z"  # untouched: still due, it will fire

    moved = registry.update_schedule(
        rt, "evolving", build_schedule("evolving", "rate(15 minutes)"), now=T0 + 5 * HOUR + timedelta(seconds=30)
    )
    assert moved["target"] == {"projectName": "janitor", "environmentVariables": {"KEEP_DAYS": "7"}}
    assert moved["nextFireTimes"][:2] == ["2026-01-01T05:25:00.000Z", "2026-01-01T05:40:00.000Z"]  # from now
    paused = registry.update_schedule(rt, "evolving", {**build_schedule("evolving"), "state": "DISABLED"})
    assert (paused["state"], paused["nextFireTimes"]) == ("DISABLED", [])
    with pytest.raises(NotFound):
        registry.update_schedule(rt, "absent", pipeline_schedule("absent"))


def test_list_get_and_delete(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(
        rt, pipeline_schedule("paris", "cron(30 2 * * ? *)", scheduleExpressionTimezone="Europe/Paris"), now=T0
    )
    registry.create_schedule(rt, pipeline_schedule("another"), now=T0)
    shown = registry.get_schedule(rt, "paris", count=3)
    assert shown["nextFireTimes"] == [
        "2026-01-01T01:30:00.000Z",
        "2026-01-02T01:30:00.000Z",
        "2026-01-03T01:30:00.000Z",
    ]
    assert shown["target"] == {"pipelineName": "release", "variables": {"DEPLOY_ENV": "prod"}}
    assert [(s["name"], len(s["nextFireTimes"])) for s in registry.list_schedules(rt)] == [("another", 1), ("paris", 1)]

    execution_id = firing.run_now(rt, "paris")["target"]["pipelineExecutionId"]
    registry.delete_schedule(rt, "paris")
    with pytest.raises(NotFound):
        registry.get_schedule(rt, "paris")
    with pytest.raises(NotFound):
        firing.history(rt, "paris")
    assert count(rt, ScheduleFiring) == 0  # its history went with it
    assert views.get_execution(rt, execution_id)["pipelineExecutionId"] == execution_id  # what it started did not


def test_the_database_holds_one_firing_per_schedule_and_slot(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("unique"), now=T0)
    fire_due(rt, now=ONE)
    with rt.db.reader() as session:
        schedule_id = session.scalars(select(ScheduleFiring.schedule_id)).one()
    values = {"trigger": "schedule", "status": "STARTED", "target_kind": "pipeline", "target_name": "release"}

    def fire_the_slot_again() -> None:
        with rt.db.session() as session:
            session.add(ScheduleFiring(schedule_id=schedule_id, slot=ONE, **values))

    with pytest.raises(IntegrityError):
        fire_the_slot_again()

    # a slot due again that was fired already (a scheduler whose clock is behind another's resumed the schedule):
    # nothing starts, and the schedule moves past it
    with rt.db.session() as session:
        registry.find_schedule(session, "unique", for_update=True).next_fire_at = ONE
    assert fire_due(rt, now=ONE + timedelta(seconds=5)) == []
    assert (count(rt, ScheduleFiring), count(rt, PipelineExecution)) == (1, 1)
    assert registry.get_schedule(rt, "unique")["nextFireTimes"][0] == "2026-01-01T02:00:00.000Z"


def test_a_schedule_that_cannot_be_read_does_not_hold_the_others_back(rt: Runtime, repo: GitRepo) -> None:
    release_pipeline(rt, repo)
    registry.create_schedule(rt, pipeline_schedule("broken"), now=T0)
    registry.create_schedule(rt, pipeline_schedule("fine"), now=T0)
    with rt.db.session() as session:
        broken = registry.find_schedule(session, "broken", for_update=True)
        broken.timezone = "Atlantis/Capital"  # a zone this machine's tz database no longer knows
    fired = fire_due(rt, now=ONE)
    assert [f.schedule for f in fired] == ["fine"]


def test_a_build_is_counted_for_the_project_its_schedule_names(rt: Runtime) -> None:
    janitor_project(rt)
    registry.create_schedule(rt, build_schedule("twice", "rate(1 minute)"), now=T0)
    for minute in (1, 2):
        fire_due(rt, now=T0.replace(second=0) + timedelta(minutes=minute, seconds=1))
    with rt.db.reader() as session:
        numbers = session.scalars(select(Build.build_number).order_by(Build.build_number)).all()
    assert numbers == [1, 2]


def test_pausing_and_resuming_keeps_a_rates_phase_and_a_new_expression_restarts_it(rt: Runtime) -> None:
    janitor_project(rt)
    registry.create_schedule(rt, build_schedule("phased", "rate(15 minutes)"), now=T0)  # 00:10, 00:25, 00:40, …
    body = build_schedule("phased", "rate(15 minutes)")
    registry.update_schedule(rt, "phased", {**body, "state": "DISABLED"}, now=T0 + HOUR)
    resumed = registry.update_schedule(
        rt, "phased", {**body, "state": "ENABLED"}, now=T0 + 5 * HOUR + timedelta(minutes=3)
    )
    assert resumed["nextFireTimes"][0] == "2026-01-01T05:25:00.000Z"
    registry.pause_schedule(rt, "phased")
    again = registry.resume_schedule(rt, "phased", now=T0 + 6 * HOUR)
    assert again["nextFireTimes"][0] == "2026-01-01T06:25:00.000Z"
    restarted = registry.update_schedule(
        rt, "phased", build_schedule("phased", "rate(20 minutes)"), now=T0 + 6 * HOUR + timedelta(minutes=1)
    )
    assert restarted["nextFireTimes"][0] == "2026-01-01T06:31:00.000Z"
