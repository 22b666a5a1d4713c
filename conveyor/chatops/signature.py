"""Slack's request signature: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">`. Pure.

The signing secret is the app's (`slack_signing_secret`). A request is refused when a header is missing, when its
`X-Slack-Request-Timestamp` is not a whole number of seconds or is more than five minutes from now (either way: a
replayed request is old, a forged one may claim the future), or when the signature does not match (compared in
constant time). The reason is for the 401 answer; it never contains the secret or the expected signature.
"""

from __future__ import annotations

import hashlib
import hmac

MAX_SKEW_SECONDS = 5 * 60


class SignatureRejected(Exception):
    """Why a request's signature was not accepted."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Slack-Signature` value of `body` sent at `timestamp`."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float) -> None:
    """Raise `SignatureRejected` unless `signature` is Slack's for `body` at `timestamp`, within five minutes of
    `now` (seconds since the epoch)."""
    if not timestamp:
        raise SignatureRejected("missing X-Slack-Request-Timestamp header")
    if not signature:
        raise SignatureRejected("missing X-Slack-Signature header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise SignatureRejected("X-Slack-Request-Timestamp is not a number of seconds") from None
    if abs(now - sent) > MAX_SKEW_SECONDS:
        raise SignatureRejected("X-Slack-Request-Timestamp is more than 5 minutes from now: a replay, or a bad clock")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode()):
        raise SignatureRejected("X-Slack-Signature does not match the request")
