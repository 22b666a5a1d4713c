"""The signature on every webhook notification, and how a receiver checks it.

Header `X-Conveyor-Signature: t=<unix seconds>,v1=<hex>`, where `<hex>` is the HMAC-SHA256, keyed with the rule's
secret, of the timestamp, a full stop and the raw request body: `f"{t}.".encode() + body`. A receiver recomputes
it over the bytes it received (before parsing them), compares in constant time, and refuses a timestamp more than
five minutes from its own clock, so a captured request cannot be replayed later. Each attempt is signed afresh,
with its own timestamp; `X-Conveyor-Delivery` stays the same across attempts, for a receiver to drop repeats.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Conveyor-Signature"
TOLERANCE_SECONDS = 300


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp`."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance` seconds of `now`."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(fields.get("v1", ""), _digest(secret, body, timestamp))


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
