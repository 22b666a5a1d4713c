"""Slack's requests: `POST /chatops/slack` (slash commands) and `POST /chatops/slack/interactions` (button presses),
plus the audit log of both under `/api/v1/chatops/commands`.

Both Slack routes verify `X-Slack-Signature` over the raw body with `slack_signing_secret` before reading anything
(401 with a JSON body when it is missing, wrong or more than five minutes old, or when no secret is configured),
then record and answer at once: a slash command with its acknowledgement as an ephemeral message (200, also for
usage and refusals, which Slack shows only when the status is 200), a button press with an empty 200 (its answer
follows through its `response_url`). A form without the fields Slack always sends is a 400.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

from flask import Blueprint, Response, jsonify, request

from conveyor.chatops import service as chat
from conveyor.chatops.service import ChatRequest
from conveyor.chatops.signature import SignatureRejected, verify
from conveyor.errors import InvalidRequest, Unauthorized
from handlers.api import bp as api_bp
from handlers.context import hands_in_a_record, runtime

bp = Blueprint("slack", __name__)


@bp.post("/chatops/slack")
@hands_in_a_record
def slash_command() -> tuple[Response | str, int]:
    form = _signed_form()
    if form.get("ssl_check") == "1":
        return "", 200  # Slack checking the certificate; nothing to do
    ack = chat.receive(
        runtime(),
        ChatRequest(
            source=chat.SLASH,
            team_id=_required(form, "team_id"),
            user_id=_required(form, "user_id"),
            text=form.get("text", ""),
            user_name=form.get("user_name"),
            channel_id=form.get("channel_id"),
            response_url=form.get("response_url"),
        ),
    )
    return jsonify(ack.payload()), 200


@bp.post("/chatops/slack/interactions")
@hands_in_a_record
def interaction() -> tuple[str, int]:
    form = _signed_form()
    try:
        payload = json.loads(_required(form, "payload"))
    except ValueError as exc:
        raise InvalidRequest(f"the payload field is not JSON: {exc}") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return "", 200  # shortcuts, view submissions, …: nothing of Conveyor's
    user = payload.get("user") or {}
    pressed = [a for a in payload.get("actions") or [] if isinstance(a, dict) and a.get("value")]
    team = (payload.get("team") or {}).get("id") or user.get("team_id")
    if not pressed or not team or not user.get("id"):
        raise InvalidRequest("a block_actions payload needs team.id, user.id and an action with a value")
    chat.receive(
        runtime(),
        ChatRequest(
            source=chat.BUTTON,
            team_id=str(team),
            user_id=str(user["id"]),
            text=str(pressed[0]["value"]),
            user_name=user.get("username") or user.get("name"),
            channel_id=(payload.get("channel") or {}).get("id"),
            response_url=payload.get("response_url"),
        ),
    )
    return "", 200


@api_bp.get("/chatops/commands")
def list_commands() -> Response:
    limit = request.args.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise InvalidRequest("limit must be a whole number from 1 to 500")
    return jsonify({"commands": chat.list_commands(runtime(), int(limit), request.args.get("user"))})


def _signed_form() -> dict[str, str]:
    secret = runtime().settings.slack_signing_secret
    if not secret:
        raise Unauthorized("this server has no Slack signing secret configured (CONVEYOR_SLACK_SIGNING_SECRET)")
    body = request.get_data(cache=False)
    try:
        verify(
            secret,
            request.headers.get("X-Slack-Request-Timestamp"),
            request.headers.get("X-Slack-Signature"),
            body,
            time.time(),
        )
    except SignatureRejected as exc:
        raise Unauthorized(str(exc)) from None
    if request.mimetype != "application/x-www-form-urlencoded":
        raise InvalidRequest(f"Slack sends application/x-www-form-urlencoded, not {request.mimetype or '(none)'}")
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {key: values[0] for key, values in fields.items()}


def _required(form: dict[str, Any], name: str) -> str:
    value = str(form.get(name) or "").strip()
    if not value:
        raise InvalidRequest(f"the form has no {name} field")
    return value
