"""Live build logs: written by the worker into a Redis stream, followed over server-sent events and the CLI."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from conveyor.build import views as build_views
from conveyor.build.livelog import LogPublisher, read_live, stream_key
from conveyor.db.models import Build
from conveyor.pipeline import definitions
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline

SLOW = """\
version: 0.2
phases:
  build:
    commands:
      - echo first line
      - sleep 1.5
      - echo second line
"""


def events_of(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            events.append({"id": fields.get("id"), "event": fields.get("event"), **json.loads(fields["data"])})
    return events


def build_of(rt: Runtime) -> str:
    with rt.db.reader() as session:
        return str(session.scalars(select(Build.id)).one())


def test_publisher_and_reader_round_trip_and_end(rt: Runtime) -> None:
    assert rt.redis is not None
    publisher = LogPublisher(rt.redis, "app:1")
    publisher.publish("one\n")
    publisher.publish("two\n")
    first = read_live(rt.redis, "app:1")
    assert [c.text for c in first.chunks] == ["one\n", "two\n"]
    assert first.ended is None
    publisher.finish("SUCCEEDED")
    rest = read_live(rt.redis, "app:1", first.last_id)
    assert rest.chunks == []
    assert rest.ended == "SUCCEEDED"
    assert rt.redis.ttl(stream_key("app:1")) > 0


def test_a_follower_sees_lines_while_the_build_runs_and_the_end(
    rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs
) -> None:
    repo.commit({"buildspec.yml": SLOW})
    definitions.create_pipeline(rt, as_yaml(pipeline("live", repo.url, build_actions=[_build_without_outputs()])))
    pipelines.start_pipeline(rt, "live")
    from rq import SimpleWorker

    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    build_id = build_of(rt)  # queued: the follower starts before the build does
    followed: dict[str, Any] = {"body": "", "seen_running": False}

    def follow() -> None:
        response = client.get(f"/api/v1/builds/{build_id}/logs?follow=1", buffered=False)
        followed["mimetype"] = response.mimetype
        for piece in response.response:
            followed["body"] += piece.decode() if isinstance(piece, bytes) else piece
            if "first line" in followed["body"] and not followed["seen_running"]:
                followed["seen_running"] = _status(rt, build_id) == "IN_PROGRESS"

    follower = threading.Thread(target=follow)
    follower.start()
    run_jobs()  # the build, on this thread (RQ wants the main thread)
    follower.join(timeout=30)

    events = events_of(followed["body"])
    assert followed["mimetype"] == "text/event-stream"
    assert followed["seen_running"], "the first line reached the follower before the build ended"
    assert events[-1]["event"] == "end"
    assert events[-1]["status"] == "SUCCEEDED"
    text = "".join(e.get("text", "") for e in events if e["event"] == "log")
    assert text.index("first line") < text.index("second line")

    resumed = events_of(
        client.get(f"/api/v1/builds/{build_id}/logs?follow=1", headers={"Last-Event-ID": events[0]["id"]}).get_data(
            as_text=True
        )
    )
    assert [e["id"] for e in resumed] == [e["id"] for e in events[1:]]


def test_a_finished_build_without_a_live_log_follows_as_its_stored_log(
    rt: Runtime, client: FlaskClient, repo: GitRepo, run_jobs
) -> None:
    repo.commit({"buildspec.yml": SLOW.replace("sleep 1.5", "true")})
    definitions.create_pipeline(rt, as_yaml(pipeline("stored", repo.url, build_actions=[_build_without_outputs()])))
    pipelines.start_pipeline(rt, "stored")
    run_jobs()
    build_id = build_of(rt)
    assert rt.redis is not None
    rt.redis.delete(stream_key(build_id))  # expired

    started = time.monotonic()
    events = events_of(client.get(f"/api/v1/builds/{build_id}/logs?follow=1").get_data(as_text=True))
    assert time.monotonic() - started < 10  # not a live window's wait (25 s) for a log that will never come
    assert [e["event"] for e in events] == ["log", "end"]
    assert "second line" in events[0]["text"]


def test_following_an_unknown_build_is_404(client: FlaskClient) -> None:
    response = client.get("/api/v1/builds/app:nope/logs?follow=1")
    assert response.status_code == 404
    assert response.is_json


def test_follow_log_stops_at_its_window_and_resumes_where_it_left(rt: Runtime, repo: GitRepo) -> None:
    repo.commit({"buildspec.yml": SLOW})
    definitions.create_pipeline(rt, as_yaml(pipeline("window", repo.url, build_actions=[_build_without_outputs()])))
    pipelines.start_pipeline(rt, "window")
    from rq import SimpleWorker

    SimpleWorker(["pipeline", "default"], connection=rt.redis).work(burst=True, logging_level="WARNING")
    build_id = build_of(rt)
    assert rt.redis is not None
    LogPublisher(rt.redis, build_id).publish("early\n")
    started = time.monotonic()
    window = list(build_views.follow_log(rt, build_id, window_seconds=0.5))
    assert 0.4 < time.monotonic() - started < 3
    assert [e.text for e in window] == ["early\n"]
    assert list(build_views.follow_log(rt, build_id, window[-1].event_id, window_seconds=0.3)) == []


def _build_without_outputs() -> dict[str, Any]:
    from tests.support.pipelines import build_action

    return build_action(outputs=())


def _status(rt: Runtime, build_id: str) -> str:
    with rt.db.reader() as session:
        return str(session.get_one(Build, build_id).status)
