"""Notification rules as users write them, validated completely: every problem at once, each at its field.

    {"name": "deploys",
     "eventTypeIds": ["codepipeline-pipeline-pipeline-execution-failed", ...],
     "resources": {"pipelines": ["shop"], "projects": [...], "applications": [...]},   # optional
     "target": {"type": "slack", "webhookUrl": "https://hooks.slack.com/services/..."}
             | {"type": "slack", "channel": "#deploys", "token": "xoxb-..."}           # token: else the setting
             | {"type": "webhook", "url": "https://ci.example.com/hook", "secret": "at least 16 characters"}
             | {"type": "eventbridge", "eventBusName": "default", "region": "eu-west-1", "roleArn": "arn:..."}}

One rule has one target (several targets: several rules). Decisions where AWS says nothing: names are 1-64 of
`A-Z a-z 0-9 . _ -` (they sit in URLs); URLs must be http or https with a host; a webhook's signing secret is the
user's (the receiver must know it) and at least 16 characters; a Slack incoming webhook URL is a credential (its
path is the key), so it is kept with the secrets and shown with its path masked, as is the password or query of a
webhook URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from conveyor.errors import Problem, SpecError
from conveyor.notify.catalog import EVENT_TYPE_IDS

TARGET_TYPES = ("slack", "webhook", "eventbridge")
RESOURCE_KINDS = ("pipelines", "projects", "applications")
MIN_SECRET_LENGTH = 16
MASK = "***"
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BUS = re.compile(r"^[/.\-_A-Za-z0-9:]{1,1600}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_RULE_KEYS = {"name", "eventTypeIds", "resources", "target"}
_TARGET_KEYS = {
    "slack": {"type", "webhookUrl", "channel", "token"},
    "webhook": {"type", "url", "secret"},
    "eventbridge": {"type", "eventBusName", "region", "roleArn"},
}


@dataclass(frozen=True)
class RuleSpec:
    name: str
    event_type_ids: tuple[str, ...]
    resources: dict[str, list[str]]
    target_type: str
    target: dict[str, Any]  # what may be shown
    secrets: dict[str, str] = field(default_factory=dict)


def parse_rule(document: Any, *, default_slack_token: bool, source: str = "notification rule") -> RuleSpec:
    """A validated rule; SpecError with every problem otherwise. `default_slack_token`: whether settings hold one."""
    problems: list[Problem] = []
    if not isinstance(document, Mapping):
        raise SpecError(source, [Problem("", "a notification rule must be an object")])
    problems += [Problem(key, "unknown field") for key in sorted(set(document) - _RULE_KEYS)]
    name = _name(document.get("name"), problems)
    event_type_ids = _event_type_ids(document.get("eventTypeIds"), problems)
    resources = _resources(document.get("resources"), problems)
    target = _target(document.get("target"), default_slack_token, problems)
    if problems or target is None:
        raise SpecError(source, problems)
    target_type, shown, secrets = target
    return RuleSpec(name, event_type_ids, resources, target_type, shown, secrets)


def _name(value: Any, problems: list[Problem]) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        problems.append(Problem("name", "required: 1 to 64 letters, digits, '.', '_' or '-'"))
        return ""
    return value


def _event_type_ids(value: Any, problems: list[Problem]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        problems.append(Problem("eventTypeIds", "required: a non-empty list of event type ids"))
        return ()
    for index, item in enumerate(value):
        if item not in EVENT_TYPE_IDS:
            problems.append(
                Problem(f"eventTypeIds[{index}]", f"unknown event type {item!r} (`conveyor notifications event-types`)")
            )
    return tuple(dict.fromkeys(str(item) for item in value))


def _resources(value: Any, problems: list[Problem]) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(Problem("resources", f"must be an object with any of {', '.join(RESOURCE_KINDS)}"))
        return {}
    resources = {}
    for kind, names in value.items():
        if kind not in RESOURCE_KINDS:
            problems.append(Problem(f"resources.{kind}", f"unknown; expected one of {', '.join(RESOURCE_KINDS)}"))
        elif not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            problems.append(Problem(f"resources.{kind}", "must be a non-empty list of names"))
        else:
            resources[kind] = list(names)
    return resources


def _target(
    value: Any, default_slack_token: bool, problems: list[Problem]
) -> tuple[str, dict[str, Any], dict[str, str]] | None:
    if not isinstance(value, Mapping):
        problems.append(Problem("target", f"required: an object whose type is one of {', '.join(TARGET_TYPES)}"))
        return None
    kind = value.get("type")
    if kind not in TARGET_TYPES:
        problems.append(
            Problem("target.type", f"unknown target type {kind!r}; expected one of {', '.join(TARGET_TYPES)}")
        )
        return None
    problems += [Problem(f"target.{key}", "unknown field") for key in sorted(set(value) - _TARGET_KEYS[kind])]
    if kind == "slack":
        return _slack(value, default_slack_token, problems)
    if kind == "webhook":
        return _webhook(value, problems)
    return _eventbridge(value, problems)


def _slack(
    value: Mapping[str, Any], default_token: bool, problems: list[Problem]
) -> tuple[str, dict[str, Any], dict[str, str]]:
    url, channel, token = value.get("webhookUrl"), value.get("channel"), value.get("token")
    if (url is None) == (channel is None):
        problems.append(Problem("target", "a Slack target needs either webhookUrl or channel (chat.postMessage)"))
        return "slack", {}, {}
    if url is not None:
        _check_url(url, "target.webhookUrl", problems)
        if token is not None:
            problems.append(Problem("target.token", "only a channel target takes a token"))
        return "slack", {"type": "slack", "webhookUrl": masked_url(str(url), keep_path=1)}, {"webhookUrl": str(url)}
    if not isinstance(channel, str) or not channel.strip():
        problems.append(Problem("target.channel", "must be a channel name or id"))
    if token is not None and (not isinstance(token, str) or not token.strip()):
        problems.append(Problem("target.token", "must be a Slack bot token"))
    if token is None and not default_token:
        problems.append(Problem("target.token", "required: no slack_bot_token is set in Conveyor's settings"))
    shown = {"type": "slack", "channel": channel, "token": MASK if token else "(the slack_bot_token setting)"}
    return "slack", shown, {"token": str(token)} if token else {}


def _webhook(value: Mapping[str, Any], problems: list[Problem]) -> tuple[str, dict[str, Any], dict[str, str]]:
    url, secret = value.get("url"), value.get("secret")
    _check_url(url, "target.url", problems)
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        problems.append(
            Problem("target.secret", f"required: the signing secret, at least {MIN_SECRET_LENGTH} characters")
        )
        secret = ""
    shown = {"type": "webhook", "url": masked_url(str(url)), "secret": MASK}
    return "webhook", shown, {"url": str(url), "secret": secret}


def _eventbridge(value: Mapping[str, Any], problems: list[Problem]) -> tuple[str, dict[str, Any], dict[str, str]]:
    bus = value.get("eventBusName", "default")
    if not isinstance(bus, str) or not _BUS.match(bus):
        problems.append(Problem("target.eventBusName", "must be an event bus name or ARN"))
    shown: dict[str, Any] = {"type": "eventbridge", "eventBusName": bus}
    region, role = value.get("region"), value.get("roleArn")
    if region is not None:
        if not isinstance(region, str) or not _REGION.match(region):
            problems.append(Problem("target.region", f"{region!r} is not an AWS region name"))
        shown["region"] = region
    if role is not None:
        if not isinstance(role, str) or not role.startswith("arn:"):
            problems.append(Problem("target.roleArn", "must be an IAM role ARN"))
        shown["roleArn"] = role
    return "eventbridge", shown, {}


def _check_url(value: Any, path: str, problems: list[Problem]) -> None:
    if not isinstance(value, str):
        problems.append(Problem(path, "required: an http:// or https:// URL"))
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(Problem(path, "must be an http:// or https:// URL with a host"))


def masked_url(url: str, keep_path: int | None = None) -> str:
    """The URL with its password and query masked; with `keep_path`, every path segment after the first
    `keep_path` masked too (a Slack webhook's key)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}:{MASK}@{host}" if parts.password else f"{parts.username}@{host}"
    path = parts.path
    if keep_path is not None:
        kept = [s for s in path.split("/") if s][:keep_path]
        path = "/" + "/".join([*kept, MASK])
    return urlunsplit((parts.scheme, host, path, MASK if parts.query else "", ""))
