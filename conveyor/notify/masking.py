"""Secrets kept out of what is stored, shown and logged: every error text a target gives passes through a Masker
made from that target's secrets before it goes anywhere."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from conveyor.notify.spec import MASK, masked_url

MAX_ERROR = 1000
_SHORTEST = 4  # a shorter value would mask ordinary words


class Masker:
    """Replaces each secret, and the parts of secret URLs that carry credentials, with `***`."""

    def __init__(self, secrets: Iterable[str] = (), urls: Iterable[tuple[str, int | None]] = ()) -> None:
        replacements: dict[str, str] = {s: MASK for s in secrets if len(s) >= _SHORTEST}
        for url, keep_path in urls:
            replacements[url] = masked_url(url, keep_path)
            parts = urlsplit(url)
            values = [value for _, value in parse_qsl(parts.query)]
            for secret in (parts.password, parts.query, *values):
                if secret and len(secret) >= _SHORTEST:
                    replacements[secret] = MASK
            if keep_path is not None:
                tail = "/".join([s for s in parts.path.split("/") if s][keep_path:])
                if len(tail) >= _SHORTEST:
                    replacements[tail] = MASK
        self._replacements = sorted(replacements.items(), key=lambda pair: -len(pair[0]))

    def __call__(self, text: str) -> str:
        for secret, replacement in self._replacements:
            text = text.replace(secret, replacement)
        return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
