"""The floor of bench/webhook_floor.py: the least a webhook that records and enqueues each delivery can do.

It verifies the signature (with Conveyor's own `verify_signature`) and parses the body as Conveyor's handler does,
then takes the steps `FLOOR_STEPS` names (comma-separated; none: answer at once): `sqlite` — one INSERT of the
delivery in its own transaction, on a SQLite file in WAL mode with synchronous=NORMAL (Conveyor's settings), writers
queued as Conveyor queues them (a lock in the process, an exclusive flock across processes); `redis` — one LPUSH to
the Redis at `FLOOR_REDIS_URL`. No matching, no execution row, no batching: each step costs what one request pays
for it alone.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import uuid
from typing import Any

import redis
from flask import Flask, jsonify, request

from conveyor.triggers.github import verify_signature

app = Flask("floor")
STEPS = frozenset(filter(None, os.environ.get("FLOOR_STEPS", "").split(",")))
SECRET = os.environ.get("FLOOR_SECRET", "").encode()
DATABASE = os.environ.get("FLOOR_DATABASE", "")
_writer = threading.Lock()
_connections = threading.local()
_queue = redis.Redis.from_url(os.environ["FLOOR_REDIS_URL"]) if "redis" in STEPS else None
_lock_file = open(f"{DATABASE}.write-lock", "a") if "sqlite" in STEPS else None  # noqa: SIM115 - the process's own


def _connection() -> sqlite3.Connection:
    connection: sqlite3.Connection | None = getattr(_connections, "value", None)
    if connection is None:
        connection = sqlite3.connect(DATABASE, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, ref TEXT, execution TEXT)")
        _connections.value = connection
    return connection


def _record(delivery: str, ref: str, execution: str) -> None:
    connection = _connection()
    assert _lock_file is not None
    with _writer:
        fcntl.flock(_lock_file, fcntl.LOCK_EX)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO deliveries VALUES (?, ?, ?)", (delivery, ref, execution))
            connection.execute("COMMIT")
        finally:
            fcntl.flock(_lock_file, fcntl.LOCK_UN)


@app.post("/webhooks/github")
def receive() -> Any:
    body = request.get_data(cache=False)
    if not verify_signature(SECRET, body, request.headers.get("X-Hub-Signature-256")):
        return jsonify({"error": "missing or wrong X-Hub-Signature-256"}), 401
    payload = json.loads(body)
    execution = str(uuid.uuid4())
    if "sqlite" in STEPS:
        _record(request.headers.get("X-GitHub-Delivery", execution), str(payload.get("ref")), execution)
    if _queue is not None:
        _queue.lpush("floor", execution)
    return jsonify({"status": "started", "executionIds": [execution]}), 202
