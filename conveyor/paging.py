"""Long lists a page at a time, newest first, as CodePipeline's ListPipelineExecutions and CodeBuild's ListBuilds
page theirs: an answer with more after it carries a `nextToken`, and asking again with that token gives the page
that follows. A token names the last item of the page it came with (its place in the order, not an offset), so a
page begins where the previous one ended even while new items arrive at the top.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import InvalidRequest


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]] = field(default_factory=list)
    next_token: str | None = None  # None: this is the last page


def page_token(kind: str, *key: str | int) -> str:
    """The token of a place in a list of `kind` (executions, builds, …): the sort key of the last item shown."""
    return base64.urlsafe_b64encode(json.dumps([kind, *key]).encode()).decode().rstrip("=")


def read_token(token: str, kind: str, length: int) -> list[Any]:
    """The sort key a token of a `kind` list holds (`length` parts); a token that is not one is a 400."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):  # not base64, not UTF-8, not JSON
        data = None
    if not (isinstance(data, list) and len(data) == length + 1 and data[0] == kind):
        shown = token if len(token) <= 40 else token[:40] + "…"
        raise InvalidRequest(f"nextToken {shown!r} is not one a list of {kind} gave")
    return data[1:]
