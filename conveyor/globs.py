"""Glob patterns over `/`-separated names (branches, tags, file paths, artifact paths).

`*` matches within one path segment, `**` across segments (`a/**/b` also matches `a/b`), `?` one character other
than `/`, `[abc]` a character class; everything else is literal.
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
        elif pattern[i] == "[" and (end := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith(("!", "^"))
            body = body[1:] if negate else body
            out.append(f"[{'^' if negate else ''}{body.replace(chr(92), chr(92) * 2)}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out) + r"\Z"


def matches(name: str, pattern: str) -> bool:
    return compile_glob(pattern).match(name) is not None


def filter_matches(name: str, includes: list[str] | None, excludes: list[str] | None) -> bool:
    """Includes (any, or all when absent) and excludes (none); excludes win."""
    if excludes and any(matches(name, p) for p in excludes):
        return False
    return not includes or any(matches(name, p) for p in includes)
