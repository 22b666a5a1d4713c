"""Glob patterns over `/`-separated names (branches, tags, file paths, artifact paths).

`*` matches within one path segment, `**` across segments (`a/**/b` also matches `a/b`), `?` one character other
than `/`, `[abc]` a character class (`[!abc]` or `[^abc]` its negation, never matching `/`); everything
else is literal.
"""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    return re.compile(_translate(pattern), re.DOTALL)


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (end := _class_end(pattern, i)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith(("!", "^"))
            body = _class_body(body[1:] if negate else body)
            if negate:
                out.append(f"[^/{body}]")  # like `?`, a negation never matches `/`
            else:
                out.append(f"[{body}]" if body else "(?!)")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out) + r"\Z"


def _class_end(pattern: str, start: int) -> int:
    """The index of the `]` closing the class opened at `start`, or -1; a `]` first in the class is literal."""
    first = start + 1
    if pattern.startswith(("!", "^"), first):
        first += 1
    return pattern.find("]", first + 1)


def _class_body(body: str) -> str:
    """A class body as a regex: `a-z` stays a range (a reversed one matches nothing), everything else is literal."""
    out: list[str] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            low, high = body[i], body[i + 2]
            if low <= high:
                out.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            out.append(re.escape(body[i]))
            i += 1
    return "".join(out)


def matches(name: str, pattern: str) -> bool:
    return compile_glob(pattern).match(name) is not None


def filter_matches(name: str, includes: list[str] | None, excludes: list[str] | None) -> bool:
    """Includes (any, or all when absent) and excludes (none); excludes win."""
    if excludes and any(matches(name, p) for p in excludes):
        return False
    return not includes or any(matches(name, p) for p in includes)
