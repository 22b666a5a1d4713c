"""Posting replies to a command's `response_url`, through slack_sdk's webhook client.

Slack takes at most five posts to one `response_url` (within 30 minutes); `post` is told how many were sent already
and refuses a sixth rather than sending it. A post that fails (Slack down, the URL expired) is reported as a
`ReplyFailed` with Slack's status, never with the URL itself, which is a credential for the channel.
"""

from __future__ import annotations

from slack_sdk.webhook import WebhookClient

from conveyor.chatops.messages import Reply

MAX_REPLIES = 5
TIMEOUT_SECONDS = 10


class ReplyFailed(Exception):
    pass


def post(response_url: str, reply: Reply, already_sent: int) -> None:
    """Send `reply` to `response_url`, the (already_sent + 1)th post to it."""
    if already_sent >= MAX_REPLIES:
        raise ReplyFailed(f"Slack takes at most {MAX_REPLIES} replies to a command; this one was not sent")
    try:
        response = WebhookClient(response_url, timeout=TIMEOUT_SECONDS).send_dict(reply.payload())
    except OSError as exc:  # urllib's URLError and timeouts
        raise ReplyFailed(f"the reply could not be sent: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise ReplyFailed(f"Slack answered the reply with HTTP {response.status_code}: {response.body[:200]}")
