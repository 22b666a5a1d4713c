"""Choosing a build's artifact files from the buildspec's `artifacts` section.

Patterns are relative to the source directory, or to each directory `base-directory` matches (whose own name is
then dropped from the stored paths). `**/*` takes everything below, `dir/*` the files directly in `dir`, a plain
path that file (or, for a directory, everything in it); `exclude-paths` (relative to the base directory, same
globs) take files back out. Nothing may come from outside the source directory: with `enable-symlinks` a link is
stored as a link, and must point inside; without it, the file it points to is stored, and must be inside too.
"""

from __future__ import annotations

import os
from pathlib import Path

from conveyor.build.spec_outputs import ArtifactsSpec
from conveyor.errors import ConveyorError
from conveyor.globs import compile_glob


class ArtifactError(ConveyorError):
    """The artifacts section selects nothing, or something it may not."""


def select_files(source_dir: Path, spec: ArtifactsSpec) -> list[tuple[Path, str]]:
    """The `(file on disk, name in the artifact)` pairs the section selects, in a stable order."""
    root = source_dir.resolve()
    for pattern in spec.files:  # every pattern, before any file is looked at: a match must not hide a bad one
        _refuse_climbing(_clean(pattern))
    bases = _base_directories(root, spec.base_directory)
    selected: dict[str, Path] = {}
    excluded = [compile_glob(_clean(p)) for p in spec.exclude_paths]
    patterns = [_Pattern(_clean(p)) for p in spec.files]
    for base in bases:
        for relative in _walk(base, patterns):
            if any(pattern.match(relative) for pattern in excluded):
                continue
            if any(pattern.selects(relative) for pattern in patterns):
                path = base / relative
                if os.path.islink(path):  # the walk enters no linked directory: only the file itself can lead out
                    _check_inside(root, path)
                name = path.name if spec.discard_paths else relative
                selected.setdefault(name, path)
    if not selected:
        raise ArtifactError(f"no matching artifact paths found for {', '.join(spec.files)}")
    return sorted(((path, name) for name, path in selected.items()), key=lambda pair: pair[1])


class _Pattern:
    """One `files` pattern: what it selects, and which directories can hold a file it selects.

    A pattern's leading segments without a glob character are a path every selected file lies on (a plain
    path selects itself or everything below it), so the walk need not enter a directory off that path.
    """

    def __init__(self, pattern: str) -> None:
        self.regex = compile_glob(pattern)
        literal = pattern.rstrip("/")
        self.below = None if any(c in literal for c in "*?[") else literal + "/"
        segments = literal.split("/")
        fixed = next((i for i, segment in enumerate(segments) if any(c in segment for c in "*?[")), len(segments))
        self.lead = segments[:fixed]

    def selects(self, relative: str) -> bool:
        return self.regex.match(relative) is not None or (self.below is not None and relative.startswith(self.below))

    def may_hold(self, directory: list[str]) -> bool:
        """Whether the directory (its segments, relative to the base) may hold a file this pattern selects."""
        shared = min(len(directory), len(self.lead))
        return directory[:shared] == self.lead[:shared]


def _base_directories(root: Path, base_directory: str | None) -> list[Path]:
    if not base_directory:
        return [root]
    pattern = _clean(base_directory).rstrip("/")
    _refuse_climbing(pattern)
    regex = compile_glob(pattern)
    matches = [root / d for d in _walk_dirs(root) if regex.match(d)]
    if not matches:
        raise ArtifactError(f"base-directory {base_directory!r} matches no directory in the source")
    for match in matches:
        _check_inside(root, match)
    return matches


def _clean(pattern: str) -> str:
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern


def _refuse_climbing(pattern: str) -> None:
    if pattern.startswith("/") or ".." in pattern.split("/"):
        raise ArtifactError(f"artifact path {pattern!r} points outside the source directory")


def _walk(base: Path, patterns: list[_Pattern]) -> list[str]:
    """The files below `base` (relative, `/`-separated, in a stable order) in directories a pattern may select from."""
    found = []
    prefix = len(os.path.join(base, ""))
    for directory, dirs, files in os.walk(base):
        relative = directory[prefix:]
        parts = relative.split("/") if relative else []
        dirs[:] = sorted(d for d in dirs if any(p.may_hold([*parts, d]) for p in patterns))
        found += [f"{relative}/{name}" if relative else name for name in sorted(files)]
    return found


def _walk_dirs(root: Path) -> list[str]:
    return [Path(d).relative_to(root).as_posix() for d, _, _ in os.walk(root) if Path(d) != root]


def _check_inside(root: Path, path: Path) -> None:
    if not path.resolve().is_relative_to(root):
        raise ArtifactError(
            f"artifact {path.relative_to(root) if path.is_relative_to(root) else path} "
            "resolves outside the source directory"
        )
