"""The AppSpec of EC2/on-premises deployments (`appspec.yml` at the root of a revision), read as the agent reads it.

    version: 0.0
    os: linux | windows
    files: [{source, destination}]          copied during Install; source "/" is the whole revision
    file_exists_behavior: DISALLOW | OVERWRITE | RETAIN
    permissions: [...]                      Linux only (appspec_permissions)
    hooks: {Event: [{location, timeout, runas}]}

Hooks may name only the events that run scripts (`hook_event_problem`); their scripts run in the order listed. A
script's `timeout` is 1 to 3600 seconds, and the timeouts given in one event add up to at most 3600, the time a
lifecycle event may take; a script without one may use what is left of the event's hour. Keys the agent does not
read are refused, except `overwrite` under `files`, which old examples carry and the agent ignores (a note says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from conveyor.deploy.appspec_events import HOST_HOOK_EVENTS, ComputePlatform, hook_event_problem
from conveyor.deploy.appspec_fields import (
    Fields,
    check_version,
    escapes_root,
    number_of,
    read_fields,
    require,
    sorted_notes,
    text_of,
    user_of,
)
from conveyor.deploy.appspec_permissions import Permission, parse_permissions
from conveyor.errors import Problem
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

TOP_KEYS = ("version", "os", "files", "file_exists_behavior", "permissions", "hooks")
FILE_KEYS = ("source", "destination", "overwrite")
SCRIPT_KEYS = ("location", "timeout", "runas", "sudo")
OPERATING_SYSTEMS = ("linux", "windows")
FILE_EXISTS_BEHAVIORS = ("DISALLOW", "OVERWRITE", "RETAIN")
MAX_EVENT_SECONDS = 3600  # one lifecycle event, all its scripts together
WINDOWS_ABSOLUTE = re.compile(r"(?:[A-Za-z]:[\\/]|\\\\)")


@dataclass(frozen=True)
class FileMapping:
    """Copy `source` (relative to the revision root; `/` is all of it) into the directory `destination`."""

    source: str
    destination: str


@dataclass(frozen=True)
class HookScript:
    """A script of a lifecycle event: its path in the revision, its timeout (None: the rest of the event's hour)."""

    location: str
    timeout: int | None = None
    runas: str | None = None
    sudo: bool = False  # run through sudo (with runas: `sudo su <user>`); a flag the agent knows, undocumented


@dataclass(frozen=True)
class HostAppSpec:
    """A valid EC2/on-premises AppSpec. `hooks` holds only events with scripts, in the order events run."""

    platform: ClassVar[ComputePlatform] = ComputePlatform.SERVER

    version: str
    os: str
    files: tuple[FileMapping, ...] = ()
    permissions: tuple[Permission, ...] = ()
    file_exists_behavior: str | None = None  # None: the deployment's own setting decides (DISALLOW by default)
    hooks: dict[str, tuple[HookScript, ...]] = field(default_factory=dict)
    notes: tuple[Problem, ...] = ()  # accepted, but without effect

    def scripts(self, event: str) -> tuple[HookScript, ...]:
        return self.hooks.get(event, ())

    @property
    def hook_count(self) -> int:
        return len(self.hooks)


def parse_host_appspec(data: dict[str, Any], problems: ProblemList, notes: ProblemList) -> HostAppSpec:
    """Read every part of a host AppSpec, adding each problem found to `problems`."""
    fields = read_fields(data, (), problems, TOP_KEYS, unknown_hint=_top_key_hint)
    version = check_version(fields, problems)
    require(fields, ["os"], problems)
    os_name = _os(fields, problems)
    files = _files(fields, os_name, problems, notes)
    permissions = parse_permissions(fields.get("permissions"), os_name, problems, notes)
    file_exists_behavior = _file_exists_behavior(fields, problems)
    hooks = _hooks(fields, os_name, problems, notes)
    return HostAppSpec(version, os_name, files, permissions, file_exists_behavior, hooks, sorted_notes(notes))


def _top_key_hint(key: str) -> str:
    if key.lower() == "resources":
        return " (Resources belong to Lambda and ECS AppSpecs)"
    spelled = next((k for k in TOP_KEYS if k == key.lower()), None)
    return f" (did you mean {spelled!r}? keys are case-sensitive)" if spelled else ""


def _os(fields: Fields, problems: ProblemList) -> str:
    text = text_of(fields, "os", problems, "linux or windows")
    if text is not None and text not in OPERATING_SYSTEMS:
        problems.add(fields.at("os"), f"unsupported os {text!r} (use linux or windows)")
    return text if text in OPERATING_SYSTEMS else "linux"


def _files(fields: Fields, os_name: str, problems: ProblemList, notes: ProblemList) -> tuple[FileMapping, ...]:
    value, path = fields.get("files"), fields.at("files")
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.add(path, "must be a list of entries (- source: / destination: /var/www/html)")
        return ()
    found = []
    for index, item in enumerate(value):
        mapping = _file_mapping(item, (*path, index), os_name, problems, notes)
        if mapping is not None:
            found.append(mapping)
    return tuple(found)


def _file_mapping(
    item: Any, path: SpecPath, os_name: str, problems: ProblemList, notes: ProblemList
) -> FileMapping | None:
    if not isinstance(item, dict):
        problems.add(path, "must be a mapping with source and destination")
        return None
    entry = read_fields(item, path, problems, FILE_KEYS)
    require(entry, ["source", "destination"], problems)
    if "overwrite" in entry:
        notes.add(entry.at("overwrite"), "not read by CodeDeploy; file_exists_behavior decides about existing files")
    source = text_of(entry, "source", problems, "a path in the revision")
    if source is not None and escapes_root(source):
        problems.add(entry.at("source"), f"{source!r} climbs out of the revision with '..'")
        source = None
    destination = _destination(entry, os_name, problems)
    return FileMapping(source, destination) if source is not None and destination is not None else None


def _destination(entry: Fields, os_name: str, problems: ProblemList) -> str | None:
    path = entry.at("destination")
    destination = text_of(entry, "destination", problems, "an absolute path on the host")
    if destination is None:
        return None
    absolute = WINDOWS_ABSOLUTE.match(destination) if os_name == "windows" else destination.startswith("/")
    if not absolute:
        example = "C:\\inetpub\\wwwroot" if os_name == "windows" else "/var/www/html"
        problems.add(path, f"{destination!r} must be an absolute path on the host (like {example})")
        return None
    return destination


def _file_exists_behavior(fields: Fields, problems: ProblemList) -> str | None:
    text = text_of(fields, "file_exists_behavior", problems, "DISALLOW, OVERWRITE or RETAIN")
    if text is not None and text not in FILE_EXISTS_BEHAVIORS:
        hint = " (in capitals)" if text.upper() in FILE_EXISTS_BEHAVIORS else ""
        problems.add(fields.at("file_exists_behavior"), f"{text!r} is not DISALLOW, OVERWRITE or RETAIN{hint}")
        return None
    return text


def _hooks(
    fields: Fields, os_name: str, problems: ProblemList, notes: ProblemList
) -> dict[str, tuple[HookScript, ...]]:
    value, path = fields.get("hooks"), fields.at("hooks")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping of lifecycle events to scripts (ApplicationStart: [- location: …])")
        return {}
    found: dict[str, tuple[HookScript, ...]] = {}
    for key, scripts in value.items():
        event = str(key)
        problem = hook_event_problem(event, ComputePlatform.SERVER)
        if problem is not None:
            problems.add((*path, event), problem)
            continue
        read = _scripts(scripts, (*path, event), os_name, problems, notes)
        if read:
            found[event] = read
    return {event: found[event] for event in HOST_HOOK_EVENTS if event in found}


def _scripts(
    value: Any, path: SpecPath, os_name: str, problems: ProblemList, notes: ProblemList
) -> tuple[HookScript, ...]:
    if value is None:
        return ()  # an event written with nothing under it runs nothing
    if not isinstance(value, list):
        dash = " (put '- ' before location)" if isinstance(value, dict) and "location" in value else ""
        problems.add(path, f"must be a list of scripts{dash}")
        return ()
    scripts = [_script(item, (*path, index), os_name, problems, notes) for index, item in enumerate(value)]
    found = tuple(script for script in scripts if script is not None)
    budget = sum(script.timeout or 0 for script in found)
    if budget > MAX_EVENT_SECONDS:
        problems.add(
            path,
            f"the scripts' timeouts add up to {budget} seconds; a lifecycle event may take {MAX_EVENT_SECONDS} at most",
        )
    return found


def _script(item: Any, path: SpecPath, os_name: str, problems: ProblemList, notes: ProblemList) -> HookScript | None:
    if not isinstance(item, dict):
        problems.add(path, "must be a mapping with a location (- location: scripts/start.sh)")
        return None
    entry = read_fields(item, path, problems, SCRIPT_KEYS)
    require(entry, ["location"], problems)
    location = _location(entry, problems)
    timeout = number_of(entry, "timeout", problems, (1, MAX_EVENT_SECONDS), " of seconds")
    runas = user_of(entry, "runas", problems)
    if runas is not None and os_name == "windows":
        notes.add(entry.at("runas"), "runas is not used on Windows: scripts run as the agent's user")
    sudo = entry.get("sudo")
    if sudo is not None and not isinstance(sudo, bool):
        problems.add(entry.at("sudo"), "must be true or false")
    if location is None:
        return None
    return HookScript(location, timeout, runas, sudo is True)


def _location(entry: Fields, problems: ProblemList) -> str | None:
    location = text_of(entry, "location", problems, "the path of a script in the revision")
    if location is not None and escapes_root(location):
        problems.add(entry.at("location"), f"{location!r} climbs out of the revision with '..'")
        return None
    return location
