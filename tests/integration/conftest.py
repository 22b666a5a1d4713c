"""Fixtures for the web app, on the same settings as the runtime fixtures; a directory other users may enter."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from conveyor.config import Settings, load_settings
from conveyor.devstack import Stack, embedded_redis, wait_for_socket
from conveyor.runtime import Runtime
from handlers.app import create_app
from tests.conftest import WEBHOOK_SECRET


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory other users may pass through (pytest's own temporary directories are closed to them)."""
    path = Path(tempfile.mkdtemp(prefix="conveyor-run-as-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def app(settings: Settings, rt: Runtime) -> Iterator[Flask]:
    app = create_app({field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)})
    yield app
    app.extensions["conveyor"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def server_url(app: Flask) -> Iterator[str]:
    """The app served on a loopback port of its own (werkzeug, threaded), for clients in other processes."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(client: FlaskClient, event: str, payload: Any, delivery: str | None = None, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signed(body),
        **headers,
    }
    return client.post("/webhooks/github", data=body, headers=sent)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Settings]:
    """A redis-server of this test's own (it will be made to stop answering): the embedded default's, in a data
    directory of the test's."""
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    server = Stack([embedded_redis(settings)], {"PATH": os.environ["PATH"]}, tmp_path)
    server.start()
    try:
        wait_for_socket(settings.embedded_redis_socket)
        yield settings
    finally:
        server.stop()
