"""Notification rules under `/api/v1` (create, list, get, delete, send a test) and what was delivered, for a rule
and for the commit statuses. They share the API blueprint (and so its token check). Answers never hold a secret.
"""

from __future__ import annotations

from flask import Response, jsonify

from conveyor.notify import rules
from handlers.api import bp, json_body, limit_arg
from handlers.context import runtime


@bp.post("/notification-rules")
def create_notification_rule() -> tuple[Response, int]:
    """A rule: {name, eventTypeIds, resources?, target}; every problem is answered at once, at its field."""
    return jsonify(rules.create_rule(runtime(), json_body())), 201


@bp.get("/notification-rules")
def list_notification_rules() -> Response:
    return jsonify({"notificationRules": rules.list_rules(runtime())})


@bp.get("/notification-rules/<name>")
def get_notification_rule(name: str) -> Response:
    return jsonify(rules.get_rule(runtime(), name))


@bp.delete("/notification-rules/<name>")
def delete_notification_rule(name: str) -> tuple[str, int]:
    rules.delete_rule(runtime(), name)
    return "", 204


@bp.post("/notification-rules/<name>/test")
def test_notification_rule(name: str) -> tuple[Response, int]:
    """Queue a test notification; a job sends it, and the rule's deliveries tell how it went."""
    return jsonify(rules.send_test(runtime(), name)), 202


@bp.get("/notification-rules/<name>/deliveries")
def notification_deliveries(name: str) -> Response:
    return jsonify({"deliveries": rules.list_deliveries(runtime(), name, limit_arg(50))})


@bp.get("/commit-statuses")
def commit_statuses() -> Response:
    """The commit statuses posted to GitHub, newest first, each with its attempts and last error."""
    return jsonify({"deliveries": rules.list_deliveries(runtime(), None, limit_arg(50))})
