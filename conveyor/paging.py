"""Long lists a page at a time, newest first, as CodePipeline's ListPipelineExecutions and CodeBuild's ListBuilds
page theirs: an answer with more after it carries a `nextToken`, and asking again with that token gives the page
that follows. A token names the last item of the page it came with (its place in the order, not an offset), so a
page begins where the previous one ended even while new items arrive at the top.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from conveyor.errors import InvalidRequest

Row = TypeVar("Row")


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
        raise _not_given(token, kind)
    return data[1:]


def read_id_token(token: str | None, kind: str) -> list[Any] | None:
    """Where a list ordered by a whole-number `id`, newest first, goes on from (None: from the top)."""
    if token is None:
        return None
    [row_id] = read_token(token, kind, 1)
    if not isinstance(row_id, int) or isinstance(row_id, bool):
        raise _not_given(token, kind)
    return [row_id]


def _not_given(token: str, kind: str) -> InvalidRequest:
    shown = token if len(token) <= 40 else token[:40] + "…"
    return InvalidRequest(f"nextToken {shown!r} is not one a list of {kind} gave")


def page_of(
    rows: Sequence[Row],
    limit: int,
    kind: str,
    key: Callable[[Row], list[Any]],
    describe: Callable[[Row], dict[str, Any]],
) -> Page:
    """The page of `rows` read one past `limit`: the first `limit` described, and when that one more came, the token
    of the last row shown (`key`: its place in the order, as `read_token` gives it back)."""
    token = page_token(kind, *key(rows[limit - 1])) if len(rows) > limit else None
    return Page([describe(row) for row in rows[:limit]], token)


def newest_key(row: Any) -> list[Any]:
    """The place of a row in a newest-first list ordered by `created_at`, then `id`."""
    return [row.created_at.isoformat(), row.id]


def after_newest(token: str | None, kind: str) -> list[Any] | None:
    """Where a newest-first list by `created_at`, then `id`, goes on from (None: from the top)."""
    if token is None:
        return None
    created, row_id = read_token(token, kind, 2)
    try:
        if isinstance(row_id, str):
            return [datetime.fromisoformat(created), row_id]
    except (TypeError, ValueError):
        pass
    raise _not_given(token, kind)
