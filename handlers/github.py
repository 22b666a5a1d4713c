"""`POST /webhooks/github`: verify the signature over the raw body, then parse, record, enqueue, answer.

401 without a valid `X-Hub-Signature-256`; 400 for a missing header or malformed JSON; 415 for a body that is
neither `application/json` nor `application/x-www-form-urlencoded` (GitHub's two content types); 413 above 25 MB.
`ping` → 200; other events Conveyor does not act on → 204; `push` and `pull_request` → 202 with the execution ids
they started (also 202, status `deferred`, when file path filters wait for the changed files to be read from git;
200 with the reason when they start nothing, a pull request action such as `labeled` included); a redelivery of a
known `X-GitHub-Delivery` → 200, starting nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, jsonify, request

from conveyor.errors import InvalidRequest, Unauthorized
from conveyor.triggers.github import verify_signature
from conveyor.triggers.service import receive_delivery
from handlers.context import hands_in_a_record, runtime

bp = Blueprint("github", __name__)
STARTING_EVENTS = frozenset({"push", "pull_request"})  # the events that may start pipelines
# The longest header values a delivery records (`WebhookDelivery`'s columns); GitHub sends a GUID and a short name.
HEADER_LENGTHS = {"X-GitHub-Event": 64, "X-GitHub-Delivery": 100}


class UnsupportedMediaType(InvalidRequest):
    status_code = 415
    code = "UnsupportedMediaType"


@bp.post("/webhooks/github")
@hands_in_a_record
def receive() -> tuple[Response | str, int]:
    rt = runtime()
    secret = rt.settings.github_webhook_secret
    if not secret:
        raise Unauthorized("this server has no GitHub webhook secret configured (CONVEYOR_GITHUB_WEBHOOK_SECRET)")
    body = request.get_data(cache=False)
    if not verify_signature(secret.encode(), body, request.headers.get("X-Hub-Signature-256")):
        raise Unauthorized("missing or wrong X-Hub-Signature-256")
    event = _required_header("X-GitHub-Event")
    delivery_id = _required_header("X-GitHub-Delivery")
    payload = _payload(body)
    outcome = receive_delivery(rt, delivery_id, event, payload)
    if outcome.status == "duplicate":
        return jsonify({"status": "duplicate", "detail": outcome.detail}), 200
    if event == "ping":
        return jsonify({"status": "pong", "zen": payload.get("zen") if isinstance(payload, dict) else None}), 200
    if event not in STARTING_EVENTS:
        return "", 204
    answer = {"status": outcome.status, "executionIds": outcome.execution_ids, "detail": outcome.detail}
    return jsonify(answer), 202 if outcome.execution_ids or outcome.status == "deferred" else 200


def _required_header(name: str) -> str:
    value = request.headers.get(name, "").strip()
    if not value:
        raise InvalidRequest(f"missing {name} header")
    longest = HEADER_LENGTHS[name]
    if len(value) > longest:
        raise InvalidRequest(f"the {name} header is longer than {longest} characters")
    return value


def _payload(body: bytes) -> Any:
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", errors="replace"))
        if "payload" not in fields:
            raise InvalidRequest("a form-encoded delivery needs a 'payload' field")
        text = fields["payload"][0]
    elif mimetype == "application/json":
        text = body.decode("utf-8", errors="replace")
    else:
        raise UnsupportedMediaType(f"unsupported content type {mimetype or '(none)'}: send application/json")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
