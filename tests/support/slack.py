"""Slack for tests: requests signed with slack_sdk's own signature code, and a local HTTP server standing in for
the `response_url`s Slack hands out, recording every reply it receives."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0TEAM"


def signed(body: bytes, secret: str = SIGNING_SECRET, at: float | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`, signed by slack_sdk at time `at` (now by default)."""
    timestamp = str(int(time.time() if at is None else at))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    assert signature is not None
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": signature,
    }


def slash_form(text: str, user: str, response_url: str, team: str = TEAM) -> bytes:
    """A slash command's form, with the fields Slack sends."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": team,
            "team_domain": "acme",
            "channel_id": "C0RELEASES",
            "channel_name": "releases",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/conveyor",
            "text": text,
            "api_app_id": "A0CONVEYOR",
            "response_url": response_url,
            "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        }
    ).encode()


def button_form(button: dict[str, Any], user: str, response_url: str, team: str = TEAM) -> bytes:
    """The interactivity request Slack sends when `button` (a Block Kit element Conveyor made) is pressed."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "channel": {"id": "C0RELEASES", "name": "releases"},
        "response_url": response_url,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "actions": [
            {
                "type": "button",
                "action_id": button["action_id"],
                "block_id": "b1",
                "value": button["value"],
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


@dataclass
class ResponseUrls:
    """A local server whose every path is a response URL; `replies(path)` is what was posted to it, in order."""

    base: str
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    status: int = 200
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def replies(self, name: str) -> list[dict[str, Any]]:
        with self._changed:
            return list(self.received.get(f"/{name}", []))

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received.get(f"/{name}", [])) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{name}: {count} replies expected, got {self.received.get(f'/{name}')}")
                self._changed.wait(left)
            return list(self.received[f"/{name}"])

    def record(self, path: str, body: dict[str, Any]) -> None:
        with self._changed:
            self.received.setdefault(path, []).append(body)
            self._changed.notify_all()


@contextmanager
def response_urls() -> Iterator[ResponseUrls]:
    recorder: ResponseUrls

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorder.record(self.path, json.loads(self.rfile.read(length) or b"{}"))
            self.send_response(recorder.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder = ResponseUrls(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        server.shutdown()
        server.server_close()
