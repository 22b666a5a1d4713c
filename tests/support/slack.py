"""Slack for tests: requests signed with slack_sdk's own signature code, and a local HTTP server (a recording
`receiver`) standing in for the `response_url`s Slack hands out."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

from tests.support.receivers import Receiver, receiver

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
    """A local server whose every path is a response URL; `replies(name)` is what was posted to it, in order."""

    server: Receiver
    status: int = 200  # what Slack answers each post with

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"

    def replies(self, name: str) -> list[dict[str, Any]]:
        return [r.json() for r in list(self.server.requests) if r.path == f"/{name}"]

    def wait_for(self, name: str, count: int = 1, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(replies := self.replies(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: {count} replies expected, got {replies}")
            time.sleep(0.02)
        return replies


@contextmanager
def response_urls() -> Iterator[ResponseUrls]:
    urls: ResponseUrls
    with receiver(lambda _received: (urls.status, "ok")) as server:
        urls = ResponseUrls(server)
        yield urls
