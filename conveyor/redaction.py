"""Credentials written into URLs, hidden wherever a URL is shown: `https://user:token@host` → `https://***@host`."""

from __future__ import annotations

import re

_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """`text` with the user information of every URL in it replaced by `***`."""
    return _CREDENTIALS.sub("***@", text)


def without_credentials(url: str) -> str:
    """The URL with its user information left out: `https://user:token@host/x` → `https://host/x`."""
    return _CREDENTIALS.sub("", url, count=1)
