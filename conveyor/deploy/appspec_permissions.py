"""The `permissions` section of a host AppSpec (Linux only): parse and validate every entry.

Each entry names an `object` (an absolute path on the host) and what to set on the paths below it that the deployment
copied: `owner`, `group`, `mode` (octal, chmod style), `acls` (setfacl entries), an SELinux `context`. `pattern` and
`except` are simple globs matched against a name relative to `object`; `type` limits them to files or directories.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.appspec_fields import (
    Fields,
    nested_fields,
    read_fields,
    require,
    string_items_at,
    text_at,
    text_of,
    user_of,
)
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

PERMISSION_KEYS = ("object", "pattern", "except", "owner", "group", "mode", "acls", "context", "type")
CONTEXT_KEYS = ("name", "user", "type", "range")
OBJECT_TYPES = ("file", "directory")
MODE = re.compile(r"[0-7]{1,4}\Z")
ACL_TAGS = {"u": "user", "user": "user", "g": "group", "group": "group", "m": "mask", "mask": "mask"}
ACL_TAGS |= {"o": "other", "other": "other"}
ACL_PERMISSIONS = re.compile(r"(?:[0-7]|[rwx-]+)\Z")
SENSITIVITY = r"s(\d+)"
RANGE = re.compile(rf"{SENSITIVITY}(?:-{SENSITIVITY})?(?::(.+))?\Z")
CATEGORY = re.compile(r"c(\d+)(?:\.c(\d+))?\Z")
MAX_CATEGORY = 1023


@dataclass(frozen=True)
class SELinuxContext:
    """`context`: the SELinux type (required), user and MLS range set on each path."""

    type: str
    user: str | None = None
    range: str = "s0"


@dataclass(frozen=True)
class Permission:
    """One `permissions` entry; `mode` is kept as the octal digits written (`"0644"`, `755`)."""

    object: str
    pattern: str = "**"
    excepts: tuple[str, ...] = ()
    owner: str | None = None
    group: str | None = None
    mode: str | None = None
    acls: tuple[str, ...] = ()
    context: SELinuxContext | None = None
    types: tuple[str, ...] = OBJECT_TYPES


def parse_permissions(value: Any, os_name: str, problems: ProblemList, notes: ProblemList) -> tuple[Permission, ...]:
    """Every entry of `permissions`; on Windows the section itself is a problem, as the agent refuses it."""
    path: SpecPath = ("permissions",)
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, "must be a list of entries (- object: /var/www/html …)")
        return ()
    if value and os_name == "windows":
        problems.add(path, "permissions apply on Linux only; remove them or use os: linux")
        return ()
    found: list[Permission] = []
    first_at: dict[str, int] = {}
    for index, item in enumerate(value):
        permission = _permission(item, (*path, index), problems, notes)
        if permission is None:
            continue
        if permission.object in first_at:
            problems.add(
                (*path, index, "object"),
                f"{permission.object} already has an entry (permissions[{first_at[permission.object]}]); "
                "an object may appear only once",
            )
        first_at.setdefault(permission.object, index)
        found.append(permission)
    return tuple(found)


def _permission(item: Any, path: SpecPath, problems: ProblemList, notes: ProblemList) -> Permission | None:
    if not isinstance(item, dict):
        problems.add(path, "must be a mapping with at least an object")
        return None
    fields = read_fields(item, path, problems, PERMISSION_KEYS)
    require(fields, ["object"], problems)
    target = _object(fields, problems)
    pattern = text_of(fields, "pattern", problems, "a glob")
    if pattern is not None and pattern != "**" and "/" in pattern:
        notes.add(
            fields.at("pattern"), "a pattern is matched against one name below object: with '/' it matches nothing"
        )
    permission = Permission(
        object=target or "",
        pattern=pattern or "**",
        excepts=tuple(
            text for _, text in string_items_at(fields.get("except"), fields.at("except"), problems, "a glob")
        ),
        owner=user_of(fields, "owner", problems),
        group=user_of(fields, "group", problems, "a group name"),
        mode=_mode(fields, problems),
        acls=_acls(fields, problems),
        context=_context(fields, problems),
        types=_types(fields, problems),
    )
    return permission if target is not None else None


def _object(fields: Fields, problems: ProblemList) -> str | None:
    target = text_of(fields, "object", problems, "an absolute path")
    if target is not None and not target.startswith("/"):
        problems.add(fields.at("object"), f"{target!r} must be an absolute path on the host (like /var/www/html)")
        return None
    return target


def _mode(fields: Fields, problems: ProblemList) -> str | None:
    """The octal digits as the user wrote them; an unquoted leading 0 is refused, since YAML reads 0644 as 420."""
    value, path = fields.get("mode"), fields.at("mode")
    if value is None:
        return None
    written = problems.document.texts.get(path)
    if isinstance(value, int) and not isinstance(value, bool) and written is not None and written != str(value):
        problems.add(
            path,
            f'YAML reads an unquoted {written} as the number {value}: quote it ("{written}") or drop the leading 0',
        )
        return None
    text = text_at(value, path, problems, "an octal mode like 644")
    if text is not None and not MODE.match(text):
        problems.add(path, f'{text!r} is not an octal mode: one to four digits from 0 to 7, like 644 or "0755"')
        return None
    return text


def _acls(fields: Fields, problems: ProblemList) -> tuple[str, ...]:
    entries = string_items_at(fields.get("acls"), fields.at("acls"), problems, "a setfacl entry like u:bob:rw")
    found = []
    for path, entry in entries:
        problem = acl_entry_problem(entry)
        if problem is not None:
            problems.add(path, problem)
        else:
            found.append(entry)
    return tuple(found)


def acl_entry_problem(entry: str) -> str | None:
    """Why `entry` is not an ACL entry `[d[efault]:][u[ser]|g[roup]|m[ask]|o[ther]:]name:permissions`, or None."""
    parts = entry.split(":")
    default = len(parts) >= 3 and parts[0] in ("d", "default")
    if default:
        parts = parts[1:]
    if len(parts) == 3:
        tag, name, permissions = ACL_TAGS.get(parts[0]), parts[1], parts[2]
        if tag is None:
            return f"{entry!r}: {parts[0]!r} is not u, user, g, group, m, mask, o or other"
    elif len(parts) == 2:
        tag = ACL_TAGS.get(parts[0]) if parts[0] in ("m", "mask", "o", "other") else "user"
        name, permissions = ("" if tag in ("mask", "other") else parts[0]), parts[1]
    else:
        return f"{entry!r} is not an ACL entry like u:bob:rw or d:g:staff:r-x"
    if tag in ("mask", "other") and name:
        return f"{entry!r}: {tag} entries take no name"
    if not name and not default and tag != "mask":
        return f"{entry!r}: entries without a name are the base permissions; set those with mode"
    if not ACL_PERMISSIONS.match(permissions):
        return f"{entry!r}: permissions must be letters from r, w, x and - (or one octal digit)"
    return None


def _context(fields: Fields, problems: ProblemList) -> SELinuxContext | None:
    context = nested_fields(fields, "context", problems, CONTEXT_KEYS)
    if context is None:
        return None
    if "name" in context and "user" in context:
        problems.add(context.at("name"), "give the SELinux user as user or as name, not both")
    require(context, ["type"], problems)
    kind = text_of(context, "type", problems, "an SELinux type")
    user_key = "user" if "user" in context else "name"
    user = user_of(context, user_key, problems, "an SELinux user")
    level = text_of(context, "range", problems, "an MLS range")
    if level is not None and (problem := range_problem(level)) is not None:
        problems.add(context.at("range"), problem)
    return SELinuxContext(kind, user, level or "s0") if kind is not None else None


def range_problem(level: str) -> str | None:
    """Why `level` is not an MLS range `s<low>[-s<high>][:c<n>[.c<m>],…]`, or None."""
    match = RANGE.match(level)
    if match is None:
        return f"{level!r} is not an MLS range like s0, s0-s2 or s0:c0.c5,c9"
    low, high, categories = match.group(1), match.group(2), match.group(3)
    if high is not None and int(high) < int(low):
        return f"{level!r}: the high sensitivity is below the low one"
    seen: set[int] = set()
    for part in (categories or "").split(",") if categories else ():
        category = CATEGORY.match(part)
        if category is None:
            return f"{level!r}: {part!r} is not a category like c3 or c0.c9"
        first, last = int(category.group(1)), int(category.group(2) or category.group(1))
        if last < first or last > MAX_CATEGORY:
            return f"{level!r}: categories go from c0 to c{MAX_CATEGORY}, low before high"
        span = set(range(first, last + 1))
        if span & seen:
            return f"{level!r}: a category is named twice"
        seen |= span
    return None


def _types(fields: Fields, problems: ProblemList) -> tuple[str, ...]:
    if fields.get("type") is None:
        return OBJECT_TYPES
    found = []
    for path, text in string_items_at(fields.get("type"), fields.at("type"), problems, "file or directory"):
        if text not in OBJECT_TYPES:
            problems.add(path, f"{text!r} is not an object type: use file, directory or both")
        elif text not in found:
            found.append(text)
    return tuple(found) or OBJECT_TYPES
