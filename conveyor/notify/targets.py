"""Sending one event to a rule's target: Slack (an incoming webhook, or chat.postMessage through slack_sdk), a
signed HTTP webhook, or EventBridge's PutEvents through boto3.

A send either returns (the target took the event) or raises DeliveryError, saying whether another attempt may
succeed; its message has passed through the target's Masker, so it holds no secret. Nothing here retries: the
delivery's attempts and their spacing are `conveyor.notify.delivery`'s.

Webhook requests: POST of the event as EventBridge's envelope (JSON), with `Content-Type: application/json`,
`X-Conveyor-Event` (the event type id), `X-Conveyor-Delivery` (the delivery id, the same on every attempt) and
`X-Conveyor-Signature` (see `conveyor.notify.signing`). Any 2xx answer is success.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from botocore.exceptions import BotoCoreError, ClientError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from conveyor import aws
from conveyor.config import Settings
from conveyor.notify.engine import retryable_http_status
from conveyor.notify.masking import Masker
from conveyor.notify.messages import slack_text
from conveyor.notify.signing import SIGNATURE_HEADER, sign

USER_AGENT = "Conveyor-Notifications"
# slack_sdk logs request URLs (an incoming webhook's is its key) at DEBUG: its logger never goes below WARNING
_slack_log = logging.getLogger("conveyor.notify.slack_sdk")
_slack_log.setLevel(logging.WARNING)
_PERMANENT_AWS_ERRORS = {"AccessDeniedException", "ValidationException", "ResourceNotFoundException"}


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class Outgoing:
    """One delivery on its way: what is sent, and the id a receiver sees."""

    delivery_id: int
    event_type: str
    event: dict[str, Any]


@dataclass(frozen=True)
class RuleTarget:
    type: str
    config: dict[str, Any]
    secrets: dict[str, str]

    def masker(self, settings: Settings) -> Masker:
        urls: list[tuple[str, int | None]] = []
        if "webhookUrl" in self.secrets:
            urls.append((self.secrets["webhookUrl"], 1))
        if "url" in self.secrets:
            urls.append((self.secrets["url"], None))
        tokens = [self.secrets.get("token", ""), self.secrets.get("secret", ""), settings.slack_bot_token]
        return Masker(tokens, urls)


def send(settings: Settings, target: RuleTarget, outgoing: Outgoing) -> None:
    """Send one event to the target; DeliveryError (masked) when it did not take it."""
    masker = target.masker(settings)
    try:
        if target.type == "slack":
            _slack(settings, target, outgoing)
        elif target.type == "webhook":
            _webhook(settings, target, outgoing)
        else:
            _eventbridge(settings, target, outgoing)
    except DeliveryError as exc:
        raise DeliveryError(masker(exc.message), exc.retryable) from None


def _slack(settings: Settings, target: RuleTarget, outgoing: Outgoing) -> None:
    text = slack_text(outgoing.event, settings.public_url)
    timeout = max(1, round(settings.notify_timeout))
    if "webhookUrl" in target.secrets:
        webhook = WebhookClient(target.secrets["webhookUrl"], timeout=timeout, logger=_slack_log, retry_handlers=[])
        try:
            answer = webhook.send(text=text)
        except OSError as exc:
            raise DeliveryError(f"could not reach Slack's incoming webhook: {exc}", True) from None
        if answer.status_code != 200:
            raise DeliveryError(
                f"Slack's incoming webhook answered {answer.status_code}: {answer.body[:200]}",
                retryable_http_status(answer.status_code),
            )
        return
    token = target.secrets.get("token") or settings.slack_bot_token
    client = WebClient(
        token=token, base_url=settings.slack_api_url, timeout=timeout, logger=_slack_log, retry_handlers=[]
    )
    try:
        client.chat_postMessage(channel=target.config["channel"], text=text)
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else None
        status = exc.response.status_code if exc.response is not None else 0
        retryable = error == "ratelimited" or retryable_http_status(status)
        raise DeliveryError(f"Slack refused chat.postMessage: {error or status}", retryable) from None
    except (SlackClientError, OSError) as exc:
        raise DeliveryError(f"could not reach Slack's Web API: {exc}", True) from None


def _webhook(settings: Settings, target: RuleTarget, outgoing: Outgoing) -> None:
    body = json.dumps(outgoing.event, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Conveyor-Event": outgoing.event_type,
        "X-Conveyor-Delivery": str(outgoing.delivery_id),
        SIGNATURE_HEADER: sign(target.secrets["secret"], body, int(time.time())),
    }
    url = target.secrets["url"]
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=settings.notify_timeout)
    except requests.RequestException as exc:
        raise DeliveryError(f"could not reach {url}: {exc}", True) from None
    if not 200 <= answer.status_code < 300:
        raise DeliveryError(
            f"{url} answered {answer.status_code}: {answer.text[:200]}", retryable_http_status(answer.status_code)
        )


def _eventbridge(settings: Settings, target: RuleTarget, outgoing: Outgoing) -> None:
    event = outgoing.event
    entry = {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "Resources": event["resources"],
        "Time": datetime.fromisoformat(event["time"]),
        "EventBusName": target.config.get("eventBusName", "default"),
    }
    try:
        client = aws.client(
            "events", settings, region=target.config.get("region"), role_arn=target.config.get("roleArn")
        )
        answer = client.put_events(Entries=[entry])
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        raise DeliveryError(f"EventBridge refused PutEvents: {exc}", code not in _PERMANENT_AWS_ERRORS) from None
    except BotoCoreError as exc:
        raise DeliveryError(f"could not reach EventBridge: {exc}", True) from None
    if answer.get("FailedEntryCount"):
        failed = answer["Entries"][0]
        raise DeliveryError(
            f"EventBridge refused the event: {failed.get('ErrorCode')}: {failed.get('ErrorMessage')}", True
        )
