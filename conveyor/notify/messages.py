"""What a person reads in Slack: one line per event, in Slack's mrkdwn, linking to what it is about."""

from __future__ import annotations

from typing import Any

from conveyor.ids import short_id
from conveyor.notify import catalog
from conveyor.notify.feed import link

_GOOD = {"SUCCEEDED", "SUCCESS"}
_BAD = {"FAILED", "FAILURE", "FAULT", "TIMED_OUT", "ROLLBACK"}
_STARTING = {"STARTED", "RESUMED", "IN_PROGRESS", "START"}


def slack_text(event: dict[str, Any], public_url: str) -> str:
    """The message for an event (EventBridge's envelope)."""
    detail, kind = event.get("detail", {}), event.get("detail-type")
    state = str(detail.get("state") or detail.get("build-status") or detail.get("completed-phase-status") or "")
    where = link(public_url, event)
    if kind == catalog.TEST_EVENT:
        return f":wave: {_escape(detail.get('message', 'test'))}"
    if kind in (catalog.EXECUTION_CHANGE, catalog.STAGE_CHANGE, catalog.ACTION_CHANGE):
        text = _pipeline(kind, detail, state, where)
    elif kind == catalog.BUILD_STATE_CHANGE:
        text = f"Build {_linked(detail['build-id'], where)} of *{_escape(detail['project-name'])}* {state}"
        text += _reason(detail.get("status-reason"))
    elif kind == catalog.BUILD_PHASE_CHANGE:
        phase = detail["completed-phase"]
        text = f"Build {_linked(detail['build-id'], where)} phase {phase} {state}"
    elif kind == catalog.DEPLOYMENT_CHANGE:
        text = _deployment(detail, state, where)
    else:
        text = f"{kind} {state}"
    return f"{_icon(state, detail)} {text}"


def _pipeline(kind: str, detail: dict[str, Any], state: str, where: str | None) -> str:
    pipeline, execution = _escape(detail["pipeline"]), _linked(short_id(detail["execution-id"]), where)
    if kind == catalog.EXECUTION_CHANGE:
        return f"Pipeline *{pipeline}* execution {execution} {state}{_reason(detail.get('summary'))}"
    if kind == catalog.STAGE_CHANGE:
        return f"Pipeline *{pipeline}* stage *{_escape(detail['stage'])}* {state} (execution {execution})"
    action = f"*{_escape(detail['stage'])}*/*{_escape(detail['action'])}*"
    if (detail.get("type") or {}).get("category") == "Approval" and state == "STARTED":
        return f"Approval needed in pipeline *{pipeline}*: {action} (execution {execution})"
    return f"Pipeline *{pipeline}* action {action} {state} (execution {execution}){_reason(detail.get('summary'))}"


def _deployment(detail: dict[str, Any], state: str, where: str | None) -> str:
    text = (
        f"Deployment {_linked(detail['deploymentId'], where)} of *{_escape(detail['application'])}*"
        f" to *{_escape(detail['deploymentGroup'])}*"
    )
    if state == "ROLLBACK":
        return f"{text} is rolled back by {detail.get('rollbackDeploymentId')}"
    return text + f" {state}" + _reason((detail.get("errorInformation") or {}).get("message"))


def _icon(state: str, detail: dict[str, Any]) -> str:
    if (detail.get("type") or {}).get("category") == "Approval" and state == "STARTED":
        return ":raised_hand:"
    if state in _GOOD:
        return ":white_check_mark:"
    if state in _BAD:
        return ":x:"
    return ":arrow_forward:" if state in _STARTING else ":information_source:"


def _linked(text: str, url: str | None) -> str:
    return f"<{url}|{_escape(text)}>" if url else f"`{_escape(text)}`"


def _reason(text: str | None) -> str:
    return f": {_escape(text)}" if text else ""


def _escape(text: Any) -> str:
    """Slack's three control characters, so a summary cannot make links or mentions."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
