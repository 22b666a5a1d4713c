"""Local HTTP servers standing in for the outside world notifications reach: Slack's incoming webhooks and Web API,
a webhook receiver, GitHub's status API. Each records every request it receives, in order."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = Callable[[Received], tuple[int, Any]]


@dataclass
class Receiver:
    """A server on 127.0.0.1; `answer` decides each response (status, JSON or text body)."""

    answer: Answer
    delay: float = 0.0  # seconds each request takes: lets two senders overlap
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, received: Received) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(received)
        if self.delay:
            time.sleep(self.delay)
        return self.answer(received)

    def bodies(self, path_prefix: str = "") -> list[Any]:
        return [r.json() for r in self.requests if r.path.startswith(path_prefix)]


@contextmanager
def receiver(answer: Answer, delay: float = 0.0) -> Iterator[Receiver]:
    recorder = Receiver(answer, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            received = Received(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            status, body = recorder.record(received)
            payload = (
                body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()


def slack_answer(received: Received) -> tuple[int, Any]:
    """Slack: incoming webhooks answer `ok`; chat.postMessage answers {ok, channel, ts} for a bearer token."""
    if received.path.startswith("/api/chat.postMessage"):
        if not received.headers.get("authorization", "").startswith("Bearer xoxb-"):
            return 200, {"ok": False, "error": "not_authed"}
        body = received.json()
        return 200, {"ok": True, "channel": body["channel"], "ts": f"{len(received.body)}.000100"}
    return 200, "ok"


def github_answer(received: Received) -> tuple[int, Any]:
    """GitHub's create-a-commit-status: 201 with the status, for a bearer token."""
    if not received.headers.get("authorization", "").startswith("Bearer "):
        return 401, {"message": "Requires authentication"}
    return 201, {**received.json(), "id": len(received.body)}


def accept(_received: Received) -> tuple[int, Any]:
    return 200, {"ok": True}


# Fixtures (registered for the whole suite by tests/conftest.py): each yields a running receiver.


@pytest.fixture
def slack_api() -> Iterator[Receiver]:
    """Slack: incoming webhooks under /services/…, the Web API under /api/."""
    with receiver(slack_answer) as server:
        yield server


@pytest.fixture
def github_api() -> Iterator[Receiver]:
    """GitHub's commit status API."""
    with receiver(github_answer) as server:
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    """Any webhook target: every request answered 200."""
    with receiver(accept) as server:
        yield server
