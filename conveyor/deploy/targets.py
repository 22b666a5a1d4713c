"""Which registered hosts a deployment group targets, by their tags (CodeDeploy's tag filters). Pure.

A filter is `{Key, Value, Type}`: `KEY_ONLY` (the host has the key), `VALUE_ONLY` (some tag has the value) or
`KEY_AND_VALUE` (the default: the key with that value). Filters in one list are ORed, as in `ec2TagFilters` and
`onPremisesInstanceTagFilters`; a tag set (`ec2TagSet.ec2TagSetList`, `onPremisesTagSet.onPremisesTagSetList`) is a
list of such lists, and a host must match every list of the set. A group's hosts are those any of its filter lists
or sets match; Conveyor's registered hosts stand for both EC2 and on-premises instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

FILTER_TYPES = ("KEY_ONLY", "VALUE_ONLY", "KEY_AND_VALUE")
_LISTS = ("ec2TagFilters", "onPremisesInstanceTagFilters")
_SETS = (("ec2TagSet", "ec2TagSetList"), ("onPremisesTagSet", "onPremisesTagSetList"))


def matches_filter(tags: Mapping[str, str], tag_filter: Mapping[str, Any]) -> bool:
    kind = tag_filter.get("Type", "KEY_AND_VALUE")
    key, value = str(tag_filter.get("Key") or ""), tag_filter.get("Value")
    if kind == "KEY_ONLY":
        return key in tags
    if kind == "VALUE_ONLY":
        return value in tags.values()
    return key in tags and tags[key] == value


def matches_any(tags: Mapping[str, str], filters: Iterable[Mapping[str, Any]]) -> bool:
    return any(matches_filter(tags, f) for f in filters)


def targeted(group: Mapping[str, Any], tags: Mapping[str, str]) -> bool:
    """Whether a host with these tags belongs to the deployment group described by `group` (its request shape)."""
    if any(group.get(name) and matches_any(tags, group[name]) for name in _LISTS):
        return True
    for outer, inner in _SETS:
        lists = (group.get(outer) or {}).get(inner) or []
        if lists and all(matches_any(tags, filters) for filters in lists):
            return True
    return False


def has_targets(group: Mapping[str, Any]) -> bool:
    """Whether the group names any tag filter at all (a group without one targets no host)."""
    return any(group.get(name) for name in _LISTS) or any((group.get(o) or {}).get(i) for o, i in _SETS)
