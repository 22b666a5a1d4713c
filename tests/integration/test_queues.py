"""What waits on each queue and who takes it: the dispatches not yet done beside RQ's jobs and registered workers,
through the REST API and the command line, on real Redis, RQ and SQL."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner
from flask.testing import FlaskClient
from rq import SimpleWorker

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.pipeline import definitions
from conveyor.pipeline.service import start_pipeline
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import SIMPLE_BUILDSPEC, as_yaml, pipeline


def _queues(client: FlaskClient) -> dict[str, dict[str, object]]:
    answer = client.get("/api/v1/queues")
    assert answer.status_code == 200
    return {queue["name"]: queue for queue in answer.get_json()["queues"]}


def test_work_no_worker_takes_is_pointed_out_until_one_does(
    client: FlaskClient, rt: Runtime, repo: GitRepo, run_jobs
) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    start_pipeline(rt, "app")

    waiting = _queues(client)
    assert list(waiting)[:2] == ["pipeline", "build-small"]  # the queues a worker serves come first, in its order
    pipeline_queue = waiting["pipeline"]
    assert (pipeline_queue["pending"], pipeline_queue["waitingJobs"], pipeline_queue["workers"]) == (1, 1, 0)
    assert pipeline_queue["oldestPendingSince"] is not None
    assert pipeline_queue["warning"] == (
        "no worker takes queue pipeline: its work waits until one does (conveyor worker)"
    )
    assert "warning" not in waiting["default"]  # nothing waits there

    worker = SimpleWorker([PIPELINE_QUEUE], connection=rt.redis)
    worker.register_birth()  # a worker listening, as `conveyor worker` registers its own
    try:
        listened = _queues(client)["pipeline"]
        assert (listened["workers"], listened["busyWorkers"]) == (1, 0)
        assert "warning" not in listened
    finally:
        worker.register_death()

    run_jobs()
    done = _queues(client)
    assert all((q["pending"], q["running"], q["waitingJobs"]) == (0, 0, 0) for q in done.values())
    assert all("warning" not in q for q in done.values())


def test_the_cli_shows_the_queues_and_warns_on_standard_error(settings: Settings, rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": SIMPLE_BUILDSPEC})
    definitions.create_pipeline(rt, as_yaml(pipeline("app", repo.url)))
    start_pipeline(rt, "app")
    runner = CliRunner()
    env = settings_environment(settings)

    table = runner.invoke(main, ["--direct", "queues"], env=env)
    listed = runner.invoke(main, ["--direct", "queues", "-o", "json"], env=env)

    assert table.exit_code == 0, table.output
    assert "pipeline" in table.stdout
    assert table.stderr == "warning: no worker takes queue pipeline: its work waits until one does (conveyor worker)\n"
    assert [q["name"] for q in json.loads(listed.stdout)][:4] == ["pipeline", "build-small", "default", "deploy"]


def test_a_redis_that_cannot_be_reached_is_one_error(settings: Settings, rt: Runtime) -> None:
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        env = {**settings_environment(settings), "CONVEYOR_REDIS_URL": f"redis://127.0.0.1:{closed.getsockname()[1]}/0"}

        result = CliRunner().invoke(main, ["--direct", "queues"], env=env)

    assert result.exit_code == 1
    assert result.output.startswith("error: Redis is unavailable: Error 111 connecting to 127.0.0.1:")
