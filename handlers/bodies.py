"""The app's request class: a body sent without Content-Length (chunked) that goes past the app's limit is refused
with 413, as one that says its length is, rather than cut at the limit.

Werkzeug stops reading such a body at `max_content_length` and hands over what it read, so a 30 MB webhook would
be answered 401 (its signature no longer matches a body cut short) instead of 413 (too large).
"""

from __future__ import annotations

from typing import Literal, overload

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge


class WholeBodyRequest(Request):
    @overload
    def get_data(self, cache: bool = True, as_text: Literal[False] = False, parse_form_data: bool = False) -> bytes: ...

    @overload
    def get_data(self, cache: bool = True, as_text: Literal[True] = ..., parse_form_data: bool = False) -> str: ...

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False) -> bytes | str:
        data = super().get_data(cache=cache, as_text=False, parse_form_data=parse_form_data)
        if self._cut_at_the_limit(data):
            raise RequestEntityTooLarge(f"the body is larger than {self.max_content_length} bytes")
        return data.decode(errors="replace") if as_text else data

    def _cut_at_the_limit(self, data: bytes) -> bool:
        """Whether reading stopped at the limit with more of the body still to come."""
        limit = self.max_content_length
        if limit is None or self.content_length is not None or len(data) < limit:
            return False
        return bool(self.environ["wsgi.input"].read(1))
