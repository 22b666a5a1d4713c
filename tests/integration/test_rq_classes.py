"""Conveyor's RQ worker classes on real Redis: a heartbeat sent alone is one MULTI/EXEC, one handed a pipeline
stays in it, and both classes run jobs as RQ's own do (in the worker's process, or in a horse forked for each)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from rq import Queue
from rq.job import JobStatus

from jobs.rq_classes import ForkingWorker, InProcessWorker


@contextmanager
def _monitored(client: redis.Redis) -> Iterator[list[str]]:
    """The commands every client sends to `client`'s database while the block runs, in the order Redis ran them."""
    database = client.connection_pool.connection_kwargs.get("db", 0)
    seen: list[str] = []
    end = f"end-of-monitoring-{uuid.uuid4().hex}"
    watching = threading.Event()

    def listen() -> None:
        with redis.Redis(connection_pool=client.connection_pool).monitor() as monitor:
            watching.set()
            for entry in monitor.listen():
                if entry.get("db") != database:
                    continue
                if end in entry["command"]:
                    return
                seen.append(entry["command"])

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert watching.wait(5)
    client.ping()  # MONITOR is in place once the listener's connection has sent it; a round trip later, surely
    yield seen
    client.echo(end)
    listener.join(timeout=10)
    assert not listener.is_alive()


def _about(commands: list[str], worker: InProcessWorker) -> list[str]:
    """The transactions and the commands on the worker's keys (a new connection's handshake left out)."""
    return [c for c in commands if c in ("MULTI", "EXEC") or worker.key in c]


def _registered(client: redis.Redis) -> InProcessWorker:
    worker = InProcessWorker(["conveyor-test"], connection=client)
    worker.register_birth()
    return worker


def test_a_heartbeat_sent_alone_is_one_transaction(redis_client: redis.Redis) -> None:
    worker = _registered(redis_client)

    with _monitored(redis_client) as commands:
        worker.heartbeat(90)

    ours = _about(commands, worker)
    assert [c.split()[0] for c in ours] == ["MULTI", "HSET", "EXPIRE", "EXPIRE", "EXEC"]
    assert ours[1].startswith(f"HSET {worker.key} last_heartbeat")
    assert ours[2:4] == [f"EXPIRE {worker.key} 90", f"EXPIRE {worker.executions_key} 90"]
    assert 85 <= redis_client.ttl(worker.key) <= 90


def test_a_heartbeat_handed_a_pipeline_stays_in_it(redis_client: redis.Redis) -> None:
    worker = _registered(redis_client)

    with _monitored(redis_client) as commands, redis_client.pipeline() as pipeline:
        pipeline.hset(worker.key, "state", "busy")
        worker.heartbeat(90, pipeline=pipeline)
        pipeline.execute()

    ours = [c.split()[0] for c in _about(commands, worker)]
    assert ours == ["MULTI", "HSET", "HSET", "EXPIRE", "EXPIRE", "EXEC"]


def test_both_classes_run_jobs_where_their_names_say(redis_client: redis.Redis) -> None:
    queue = Queue("conveyor-test", connection=redis_client)
    here = queue.enqueue("os.getpid")
    InProcessWorker([queue], connection=redis_client).work(burst=True, logging_level="WARNING")
    forked = queue.enqueue("os.getpid")
    ForkingWorker([queue], connection=redis_client).work(burst=True, logging_level="WARNING")

    assert here.get_status(refresh=True) == forked.get_status(refresh=True) == JobStatus.FINISHED
    assert here.return_value() == os.getpid()
    assert forked.return_value() not in (None, os.getpid())
