"""A build's cache: the directories its buildspec's `cache.paths` name, restored before `install`, saved after success.

`paths` use the artifact glob forms (`node_modules/**/*`, `vendor/*`, a plain directory), relative to the source
directory, absolute (`/root/.m2/**/*`), or under the build's home (`~/.npm/**/*`, `$HOME/.cache/pip/**/*`). What they
match is kept as a tar archive (links as links); restoring extracts it over the source, so cached entries win over
source entries of the same name, as CodeBuild's custom cache does.

The key is expanded by the build's shell, after `$(codebuild-hash-files <glob>…)` is replaced by a SHA-256 over the
matching source files (names and contents). It is expanded once, when the cache is restored, and the same key is used
to save, so a build that changes its lock file still saves under the key it looked up. Decided where AWS says nothing:
a keyed entry, once saved, is not saved again (an exact hit saves nothing); without a key the project's single cache
is replaced by every successful build. A cache never fails a build: what goes wrong is a warning in the log.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shlex
import tarfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from conveyor.build.cache_store import CacheEntry, CacheStore
from conveyor.build.log import BuildLog
from conveyor.build.spec_outputs import CacheSpec
from conveyor.globs import compile_glob

HASH_FILES = re.compile(r"\$\(\s*codebuild-hash-files((?:\s+[^\s()]+)+)\s*\)")
ROOTS = ("source", "home", "host")  # the archive's top-level folders: where each kind of path is restored to


class CacheError(Exception):
    """A cache could not be read or written; the build goes on without it."""


class BuildCache:
    def __init__(
        self,
        spec: CacheSpec,
        store: CacheStore,
        source_dir: Path,
        home: Path,
        scratch: Path,
        log: BuildLog,
        evaluate: Callable[[str], str | None],
        *,
        host_paths: bool = True,
    ) -> None:
        self.spec = spec
        self.host_paths = host_paths  # False in the sandbox: the host stays read-only, cache or not
        self.store = store
        self.bases = {"source": source_dir, "home": home, "host": Path("/")}
        self.scratch = scratch
        self.log = log
        self.evaluate = evaluate
        self.key: str | None = None
        self.restored: CacheEntry | None = None

    def restore(self) -> None:
        if not self.spec.restores:
            return
        try:
            self.key = self._expand_key()
            entry = self.store.find(self.key, self.spec.fallback_keys if self.key is not None else ())
            if entry is None:
                self.log.container(f"Cache miss: no {self.store.kind} cache entry for {self._describe(self.key)}")
                return
            started = time.monotonic()
            archive = self.scratch / f"cache-{uuid.uuid4().hex}{self.store.suffix}"
            self.store.fetch(entry, archive)
            count, skipped = self._extract(archive)
            archive.unlink()
        except (CacheError, OSError, tarfile.TarError) as exc:
            self.log.container(f"Warning: the cache was not restored: {exc}")
            return
        self.restored = entry
        how = "Restored" if entry.key == self.key else "Restored (fallback)"
        note = f", {skipped} unsafe entries skipped" if skipped else ""
        self.log.container(
            f"{how} {self.store.kind} cache {self._describe(entry.key)}: {count} entries "
            f"in {time.monotonic() - started:.2f}s{note}"
        )

    def save(self) -> None:
        if not self.spec.saves:
            return
        try:
            key = self.key if self.spec.restores else self._expand_key()
            if key is not None and ((self.restored is not None and self.restored.key == key) or self._saved(key)):
                self.log.container(f"Cache {self._describe(key)} is already saved; not saving it again")
                return
            started = time.monotonic()
            archive = self.scratch / f"cache-{uuid.uuid4().hex}{self.store.suffix}"
            count = self._pack(archive)
            if count == 0:
                self.log.container(f"Cache paths matched nothing; no cache saved ({', '.join(self.spec.paths)})")
                archive.unlink(missing_ok=True)
                return
            size = archive.stat().st_size
            self.store.save(key, archive)
            archive.unlink()
        except (CacheError, OSError, tarfile.TarError) as exc:
            self.log.container(f"Warning: the cache was not saved: {exc}")
            return
        self.log.container(
            f"Saved {self.store.kind} cache {self._describe(key)}: {count} entries, {size / 1e6:.1f} MB "
            f"in {time.monotonic() - started:.2f}s"
        )

    # -- the key --------------------------------------------------------------------------------------------------

    def _expand_key(self) -> str | None:
        if self.spec.key is None:
            return None
        text = HASH_FILES.sub(lambda match: hash_files(self.bases["source"], shlex.split(match[1])), self.spec.key)
        expanded = self.evaluate(text)
        if expanded is None or not expanded.strip():
            raise CacheError(f"the cache key {self.spec.key!r} could not be expanded")
        return expanded.strip()

    def _saved(self, key: str) -> bool:
        entry = self.store.find(key)
        return entry is not None and entry.key == key

    @staticmethod
    def _describe(key: str | None) -> str:
        return "(the project's cache)" if key is None else f"key {key!r}"

    # -- the archive ----------------------------------------------------------------------------------------------

    def _pack(self, archive: Path) -> int:
        count = 0
        with (
            archive.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) if self.store.compress else raw as stream,
            tarfile.open(fileobj=stream, mode="w") as tar,
        ):
            for root, base, relative in self._selected():
                tar.add(base / relative, arcname=f"{root}/{relative}", recursive=False)
                count += 1
        return count

    def _selected(self) -> Iterator[tuple[str, Path, str]]:
        """`(root, its directory, path below it)` for every file and link the cache paths match, each once."""
        seen: set[tuple[str, str]] = set()
        for pattern in self.spec.paths:
            root, start, rest = self._split(pattern)
            if root == "host" and not self.host_paths:
                self.log.container(f"Warning: cache path {pattern!r} is outside the sandbox's workspace; not cached")
                continue
            base = self.bases[root]
            matcher = compile_glob(rest) if rest else None
            for relative in _walk(base, start):
                inside = relative[len(start) :].lstrip("/") if start else relative
                if matcher is not None and not matcher.match(inside):
                    continue
                if (root, relative) not in seen:
                    seen.add((root, relative))
                    yield root, base, relative

    def _split(self, pattern: str) -> tuple[str, str, str]:
        """Which root a path is under, the fixed directory it starts at (below the root), and its glob part."""
        text = pattern.strip()
        if text.startswith(("~/", "$HOME/", "${HOME}/")):
            root, text = "home", text.split("/", 1)[1]
        elif text.startswith("/"):
            root, text = "host", text.lstrip("/")
        else:
            root = "source"
            while text.startswith("./"):
                text = text[2:]
        parts = text.split("/")
        if ".." in parts:
            raise CacheError(f"cache path {pattern!r} may not contain '..'")
        fixed = []
        for part in parts:
            if any(c in part for c in "*?["):
                break
            fixed.append(part)
        start = "/".join(p for p in fixed if p)
        rest = "/".join(parts[len(fixed) :])
        return root, start, rest

    def _extract(self, archive: Path) -> tuple[int, int]:
        count = skipped = 0
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                root, _, relative = member.name.partition("/")
                allowed = root in self.bases and (root != "host" or self.host_paths)
                if not allowed or not relative or not _safe(member, relative, root):
                    skipped += 1
                    continue
                member.name = relative
                if member.islnk():  # a second name of a file already in the archive, under the same root
                    member.linkname = member.linkname.partition("/")[2]
                base = self.bases[root]
                target = base / relative
                if target.is_symlink() or (target.exists() and not target.is_dir()):
                    target.unlink()  # the cached entry wins over the source's
                _extract_member(tar, member, base)
                count += 1
        return count, skipped


def _extract_member(tar: tarfile.TarFile, member: tarfile.TarInfo, base: Path) -> None:
    """Extract one member `_safe` has checked (saying so, where Python asks which extraction filter applies)."""
    if hasattr(tarfile, "fully_trusted_filter"):
        tar.extract(member, base, set_attrs=True, filter="fully_trusted")
    else:  # an early 3.11 without extraction filters
        tar.extract(member, base, set_attrs=True)


def _safe(member: tarfile.TarInfo, relative: str, root: str) -> bool:
    """Only files, directories and links, below their root; a link under the source or home stays inside it."""
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        return False
    if member.islnk():
        link_root, _, link_path = member.linkname.partition("/")
        return link_root == root and ".." not in link_path.split("/") and not link_path.startswith("/")
    parts = relative.split("/")
    if relative.startswith("/") or ".." in parts:
        return False
    if member.issym() and root != "host":
        target = os.path.normpath(os.path.join(os.path.dirname(relative), member.linkname))
        return not member.linkname.startswith("/") and not target.startswith("..")
    return True


def _walk(base: Path, start: str) -> Iterator[str]:
    """Files and links (not followed) below `base/start`, as paths relative to `base`; `start` itself if a file."""
    top = base / start if start else base
    if top.is_symlink() or top.is_file():
        yield start
        return
    for directory, dirs, files in os.walk(top):
        names = sorted(files) + sorted(d for d in dirs if Path(directory, d).is_symlink())
        dirs.sort()
        for name in names:
            yield Path(directory, name).relative_to(base).as_posix()


def hash_files(source_dir: Path, patterns: list[str]) -> str:
    """SHA-256 over the source files matching `patterns` (their names and contents), in name order."""
    matchers = [compile_glob(p.removeprefix("./")) for p in patterns]
    digest = hashlib.sha256()
    for relative in sorted(_walk(source_dir, "")):
        if any(m.match(relative) for m in matchers) and (source_dir / relative).is_file():
            digest.update(relative.encode() + b"\0")
            digest.update(hashlib.sha256((source_dir / relative).read_bytes()).digest())
    return digest.hexdigest()
