"""StopBuild and the queued timeout, against real workers' code, Redis and SQL."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlalchemy import select

from conveyor.db.models import Build, Dispatch, utcnow
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs.dispatch import RQInspector
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline


def _queued_build(rt: Runtime, repo: GitRepo, buildspec: str, name: str) -> tuple[str, str]:
    repo.commit({"buildspec.yml": buildspec})
    definitions.create_pipeline(rt, as_yaml(pipeline(name, repo.url, build_actions=[build_action(outputs=())])))
    execution_id = pipelines.start_pipeline(rt, name)
    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    with rt.db.reader() as session:
        return execution_id, str(session.scalars(select(Build.id)).one())


def test_stopping_a_queued_build_ends_it_at_once_and_fails_its_action(
    rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs
) -> None:
    execution_id, build_id = _queued_build(rt, repo, "version: 0.2\nphases:\n  build:\n    commands: [true]\n", "q")

    answer = client.post(f"/api/v1/builds/{build_id}/stop")

    assert answer.status_code == 200
    assert answer.get_json()["buildStatus"] == "STOPPED"
    assert answer.get_json()["phases"][1]["phaseStatus"] == "STOPPED"
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Failed"
    assert "STOPPED" in execution["stages"][1]["actions"][0]["summary"]
    run_jobs()  # the build's queue job finds nothing to do
    assert client.get(f"/api/v1/builds/{build_id}").get_json()["buildStatus"] == "STOPPED"
    with rt.db.reader() as session:
        assert {d.state for d in session.scalars(select(Dispatch))} == {"done"}


def test_stopping_a_running_build_kills_its_commands_and_still_finalizes(
    rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs, tmp_path: Path
) -> None:
    pid_file = tmp_path / "sleeper.pid"
    buildspec = (
        f"version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 60 & echo $! > {pid_file}; wait\n"
        "  post_build:\n    commands:\n      - echo post ran\n"
    )
    execution_id, build_id = _queued_build(rt, repo, buildspec, "running")

    def stop_when_running() -> None:
        deadline = time.monotonic() + 30
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert client.post(f"/api/v1/builds/{build_id}/stop").get_json()["stopRequestedAt"]

    stopper = threading.Thread(target=stop_when_running)
    stopper.start()
    run_jobs()
    stopper.join(timeout=60)

    build = client.get(f"/api/v1/builds/{build_id}").get_json()
    assert build["buildStatus"] == "STOPPED"
    phases = {p["phaseType"]: p["phaseStatus"] for p in build["phases"]}
    assert phases["BUILD"] == "STOPPED"
    assert phases["FINALIZING"] == "SUCCEEDED"
    assert "POST_BUILD" not in phases  # a stopped build goes straight to finalizing
    assert not _alive(int(pid_file.read_text()))
    assert views.get_execution(rt, execution_id)["status"] == "Failed"


def test_stopping_a_finished_build_is_409(rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs) -> None:
    _, build_id = _queued_build(rt, repo, "version: 0.2\nphases:\n  build:\n    commands: [true]\n", "done")
    run_jobs()
    answer = client.post(f"/api/v1/builds/{build_id}/stop")
    assert answer.status_code == 409
    assert "already ended SUCCEEDED" in answer.get_json()["message"]


def test_a_build_queued_past_its_queued_timeout_times_out(rt: Runtime, repo: GitRepo) -> None:
    execution_id, build_id = _queued_build(rt, repo, "version: 0.2\nphases:\n  build:\n    commands: [true]\n", "wait")
    Queue("build-small", connection=rt.redis).empty()  # no build worker ever comes

    soon = reconcile(rt, RQInspector(rt.redis), now=utcnow() + timedelta(minutes=5))
    late = reconcile(rt, RQInspector(rt.redis), now=utcnow() + timedelta(minutes=481))

    assert soon.queue_timed_out == []
    assert late.queue_timed_out == [build_id]
    with rt.db.reader() as session:
        build = session.get_one(Build, build_id)
        assert build.status == "TIMED_OUT"
        assert build.status_reason == "Build has timed out in the queue. 480 mins"
    assert views.get_execution(rt, execution_id)["status"] == "Failed"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
