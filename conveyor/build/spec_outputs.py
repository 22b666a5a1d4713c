"""The `artifacts`, `reports` and `cache` sections of a buildspec: what a build leaves behind. Pure parsing."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList, is_yes, mapping_at, optional_text, string_list_at

ARTIFACT_KEYS = {
    "files",
    "name",
    "discard-paths",
    "base-directory",
    "exclude-paths",
    "enable-symlinks",
    "s3-prefix",
    "secondary-artifacts",
}


@dataclass(frozen=True)
class ArtifactsSpec:
    files: tuple[str, ...]
    base_directory: str | None = None
    discard_paths: bool = False
    name: str | None = None  # evaluated by the build's shell when the artifact is stored
    exclude_paths: tuple[str, ...] = ()
    enable_symlinks: bool = False
    s3_prefix: str | None = None
    secondary: tuple[tuple[str, ArtifactsSpec], ...] = ()  # (artifact identifier, its section)


@dataclass(frozen=True)
class ReportSpec:
    """One `reports` group: which files, and in which format."""

    name: str  # a report group name (the group is <project>-<name>) or a report group ARN
    files: tuple[str, ...]
    file_format: str = "JUNITXML"
    base_directory: str | None = None
    discard_paths: bool = False


def parse_artifacts(value: Any, problems: ProblemList, path: SpecPath = ("artifacts",)) -> ArtifactsSpec | None:
    if value is None:
        return None
    body = mapping_at(value, path, problems)
    allowed = ARTIFACT_KEYS if len(path) == 1 else ARTIFACT_KEYS - {"secondary-artifacts"}
    for key in sorted(set(map(str, body)) - allowed):
        problems.add((*path, key), "unknown key")
    files = string_list_at(body.get("files"), (*path, "files"), problems)
    if not files:
        problems.add((*path, "files"), "artifacts needs a non-empty 'files' list")
    secondary = []
    for identifier, section in mapping_at(
        body.get("secondary-artifacts"), (*path, "secondary-artifacts"), problems
    ).items():
        if not re.match(r"^[A-Za-z0-9_-]{1,100}$", str(identifier)):
            problems.add((*path, "secondary-artifacts", str(identifier)), "an identifier is letters, digits, - and _")
        parsed = parse_artifacts(section, problems, (*path, "secondary-artifacts", str(identifier)))
        if parsed is not None:
            secondary.append((str(identifier), parsed))
    return ArtifactsSpec(
        files=tuple(files),
        base_directory=optional_text(body.get("base-directory")),
        discard_paths=is_yes(body.get("discard-paths")),
        name=optional_text(body.get("name")),
        exclude_paths=tuple(string_list_at(body.get("exclude-paths"), (*path, "exclude-paths"), problems)),
        enable_symlinks=is_yes(body.get("enable-symlinks")),
        s3_prefix=optional_text(body.get("s3-prefix")),
        secondary=tuple(secondary),
    )


REPORT_KEYS = {"files", "base-directory", "discard-paths", "file-format"}
REPORT_FORMATS = (
    "JUNITXML",
    "CUCUMBERJSON",
    "NUNITXML",
    "NUNIT3XML",
    "TESTNGXML",
    "VISUALSTUDIOTRX",
    "CLOVERXML",
    "COBERTURAXML",
    "JACOCOXML",
    "SIMPLECOV",
)


def parse_reports(value: Any, problems: ProblemList) -> tuple[ReportSpec, ...]:
    groups = mapping_at(value, ("reports",), problems)
    if len(groups) > 5:
        problems.add(("reports",), f"a project has at most 5 report groups, not {len(groups)}")
    found = []
    for name, raw in groups.items():
        path: SpecPath = ("reports", str(name))
        body = mapping_at(raw, path, problems)
        for key in sorted(set(map(str, body)) - REPORT_KEYS):
            problems.add((*path, key), "unknown key")
        files = string_list_at(body.get("files"), (*path, "files"), problems)
        if not files:
            problems.add((*path, "files"), "a report group needs a non-empty 'files' list")
        file_format = str(body.get("file-format", "JUNITXML")).upper()
        if file_format not in REPORT_FORMATS:
            problems.add(
                (*path, "file-format"), f"{body.get('file-format')!r} is not one of {', '.join(REPORT_FORMATS)}"
            )
        found.append(
            ReportSpec(
                str(name),
                tuple(files),
                file_format,
                optional_text(body.get("base-directory")),
                is_yes(body.get("discard-paths")),
            )
        )
    return tuple(found)


CACHE_KEYS = {"paths", "key", "fallback-keys", "action"}
CACHE_ACTIONS = ("restore", "save")


@dataclass(frozen=True)
class CacheSpec:
    """The buildspec's `cache`: which paths, under which key (evaluated by the build's shell), restored and saved."""

    paths: tuple[str, ...]
    key: str | None = None
    fallback_keys: tuple[str, ...] = ()  # prefixes tried in order when `key` has no entry; ignored without `key`
    action: str | None = None  # "restore" or "save" only; None: both

    @property
    def restores(self) -> bool:
        return self.action != "save"

    @property
    def saves(self) -> bool:
        return self.action != "restore"


def parse_cache(value: Any, problems: ProblemList) -> CacheSpec | None:
    if value is None:
        return None
    body = mapping_at(value, ("cache",), problems)
    for key in sorted(set(map(str, body)) - CACHE_KEYS):
        problems.add(("cache", key), "unknown key")
    paths = string_list_at(body.get("paths"), ("cache", "paths"), problems)
    if not paths:
        problems.add(("cache", "paths"), "a cache needs a non-empty 'paths' list")
    fallback = string_list_at(body.get("fallback-keys"), ("cache", "fallback-keys"), problems)
    if len(fallback) > 5:
        problems.add(("cache", "fallback-keys"), f"at most 5 fallback keys, not {len(fallback)}")
    action_text = optional_text(body.get("action"))
    if action_text is not None and action_text not in CACHE_ACTIONS:
        problems.add(("cache", "action"), f"{action_text!r} is not {' or '.join(CACHE_ACTIONS)} (omit it for both)")
    cache_key = optional_text(body.get("key"))
    if cache_key is not None and not cache_key.strip():
        problems.add(("cache", "key"), "an empty key: omit it for the project's single cache")
    return CacheSpec(tuple(paths), cache_key, tuple(fallback), action_text)
