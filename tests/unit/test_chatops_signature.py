"""Slack request signatures: ours against slack_sdk's own code, both ways, and every way a request is refused."""

from __future__ import annotations

import time

import pytest
from slack_sdk.signature import SignatureVerifier

from conveyor.chatops.signature import SignatureRejected, sign, verify

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=x&team_id=T1&user_id=U1&command=%2Fconveyor&text=status+web"


def test_slack_sdks_signature_is_accepted() -> None:
    now = time.time()
    timestamp = str(int(now))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=BODY)
    verify(SECRET, timestamp, signature, BODY, now)


def test_our_signature_is_slack_sdks() -> None:
    timestamp = str(int(time.time()))
    assert SignatureVerifier(SECRET).is_valid(BODY, timestamp, sign(SECRET, timestamp, BODY))
    assert sign(SECRET, timestamp, BODY) == SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=BODY)


def test_slacks_documented_example() -> None:
    """The request Slack's documentation walks through, with its signing secret and expected signature."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body) == expected
    verify("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", expected, body, 1531420618 + 299)


@pytest.mark.parametrize("skew", [301, -301, 3600, -86400])
def test_a_timestamp_more_than_five_minutes_off_is_refused(skew: int) -> None:
    now = time.time()
    timestamp = str(int(now) - skew)
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=BODY)
    with pytest.raises(SignatureRejected, match="more than 5 minutes from now"):
        verify(SECRET, timestamp, signature, BODY, now)


def test_five_minutes_exactly_is_still_accepted() -> None:
    timestamp = "1700000000"
    verify(SECRET, timestamp, sign(SECRET, timestamp, BODY), BODY, 1700000000 + 300)


@pytest.mark.parametrize(
    ("secret", "body", "why"),
    [
        ("another-secret", BODY, "signed with another secret"),
        (SECRET, BODY + b"&text=deploy", "body changed after signing"),
    ],
)
def test_a_forged_signature_is_refused(secret: str, body: bytes, why: str) -> None:
    now = time.time()
    timestamp = str(int(now))
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=BODY)
    with pytest.raises(SignatureRejected, match="does not match") as caught:
        verify(SECRET, timestamp, signature, body, now)
    assert SECRET not in str(caught.value), why


def test_a_signature_for_another_timestamp_is_refused() -> None:
    now = time.time()
    signature = sign(SECRET, str(int(now) - 10), BODY)
    with pytest.raises(SignatureRejected, match="does not match"):
        verify(SECRET, str(int(now)), signature, BODY, now)


@pytest.mark.parametrize(
    ("timestamp", "signature", "message"),
    [
        (None, "v0=00", "missing X-Slack-Request-Timestamp"),
        ("", "v0=00", "missing X-Slack-Request-Timestamp"),
        ("1700000000", None, "missing X-Slack-Signature"),
        ("soon", "v0=00", "not a number of seconds"),
        ("1700000000", "v0=☃", "does not match"),
    ],
)
def test_missing_or_malformed_headers_are_refused(timestamp: str | None, signature: str | None, message: str) -> None:
    with pytest.raises(SignatureRejected, match=message):
        verify(SECRET, timestamp, signature, BODY, 1700000000)
