"""Where build caches are kept, and how an entry is found: by its exact key, or by a fallback key's prefix.

A project's cache (`cache` in its CodeBuild shape) is `LOCAL` — a directory on the worker, so only builds on the
same worker share it — or `S3` — the bucket and prefix its `location` names, or Conveyor's blob store when it names
none — or `NO_CACHE`. Its entries live under one namespace (`cacheNamespace`, else the project's name):

    caches/<namespace>/keys/<key>/<saved at, µs>.tar[.gz]   one per key: a key, once saved, is not saved again
    caches/<namespace>/project/<saved at, µs>.tar[.gz]       no key: the project's one cache, replaced on each save

Keys are percent-encoded into the entry's name character by character, so a key's prefix is its entry's prefix.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from conveyor import aws
from conveyor.blobs import BlobStore, LocalBlobStore, S3BlobStore
from conveyor.config import Settings

CACHE_TYPES = ("NO_CACHE", "LOCAL", "S3")
LOCAL_ENTRIES_KEPT = 10  # keyed entries per namespace on a worker's disk; the oldest go first


@dataclass(frozen=True)
class CacheConfig:
    """A project's cache settings, copied onto each build when it is submitted."""

    type: str = "LOCAL"
    namespace: str = ""
    location: str | None = None  # S3: bucket[/prefix]

    @classmethod
    def for_project(cls, cache: dict[str, Any] | None, project: str) -> CacheConfig:
        """The cache a project's builds use, from its `cache` in CodeBuild's shape (None: LOCAL)."""
        cache = cache or {"type": "LOCAL"}
        namespace = cache.get("cacheNamespace") or project
        kind = cache.get("type", "LOCAL")
        if kind == "LOCAL" and cache.get("modes") and "LOCAL_CUSTOM_CACHE" not in cache["modes"]:
            kind = "NO_CACHE"  # only the custom cache holds a buildspec's cache paths
        return cls(kind, namespace, cache.get("location") if kind == "S3" else None)

    def record(self) -> dict[str, Any]:
        return {"type": self.type, "namespace": self.namespace, "location": self.location}


@dataclass(frozen=True)
class CacheEntry:
    name: str  # the blob key
    key: str | None  # the cache key it was saved under; None for the project's cache
    saved_us: int


class CacheStore:
    def __init__(self, blobs: BlobStore, namespace: str, *, compress: bool, keep: int | None = None) -> None:
        self.blobs = blobs
        self.root = f"caches/{_encode(namespace)}"
        self.compress = compress  # over a network, gzip pays for itself; on a local disk, it does not
        self.keep = keep
        self.kind = "S3" if isinstance(blobs, S3BlobStore) else "LOCAL"

    @property
    def suffix(self) -> str:
        return ".tar.gz" if self.compress else ".tar"

    def find(self, key: str | None, fallback_keys: tuple[str, ...] = ()) -> CacheEntry | None:
        """The entry for `key` (newest), else the newest entry whose key starts with each fallback key in turn."""
        if key is None:
            return _newest(self._entries(f"{self.root}/project/"))
        exact = _newest(self._entries(f"{self.root}/keys/{_encode(key)}/"))
        if exact is not None:
            return exact
        for prefix in fallback_keys:
            found = _newest(self._entries(f"{self.root}/keys/{_encode(prefix)}"))
            if found is not None:
                return found
        return None

    def fetch(self, entry: CacheEntry, destination: Path) -> None:
        self.blobs.get_file(entry.name, destination)

    def save(self, key: str | None, archive: Path) -> CacheEntry:
        saved_us = time.time_ns() // 1000
        folder = "project" if key is None else f"keys/{_encode(key)}"
        entry = CacheEntry(f"{self.root}/{folder}/{saved_us:016d}{self.suffix}", key, saved_us)
        self.blobs.put_file(entry.name, archive)
        if key is None:  # the project's cache: only the newest is kept
            for older in self._entries(f"{self.root}/project/"):
                if older.name != entry.name and older.saved_us <= saved_us:
                    self.blobs.delete(older.name)
        elif self.keep is not None:
            keyed = sorted(self._entries(f"{self.root}/keys/"), key=lambda e: e.saved_us, reverse=True)
            for stale in keyed[self.keep :]:
                self.blobs.delete(stale.name)
        return entry

    def _entries(self, prefix: str) -> list[CacheEntry]:
        found = []
        for name in self.blobs.list(prefix):
            folder, _, file_name = name.rpartition("/")
            stamp = file_name.split(".", 1)[0]
            if not stamp.isdigit():
                continue
            key = None if folder.endswith("/project") else unquote(folder.rpartition("/")[2])
            found.append(CacheEntry(name, key, int(stamp)))
        return found


def open_cache_store(settings: Settings, config: CacheConfig, default_blobs: BlobStore) -> CacheStore | None:
    """The store a build with `config` uses (None for NO_CACHE)."""
    if config.type == "NO_CACHE":
        return None
    if config.type == "S3":
        blobs = default_blobs
        if config.location:
            bucket, _, prefix = config.location.removeprefix("s3://").partition("/")
            blobs = S3BlobStore(bucket, prefix, aws.client("s3", settings))
        return CacheStore(blobs, config.namespace, compress=True)
    return CacheStore(LocalBlobStore(settings.path("cache")), config.namespace, compress=False, keep=LOCAL_ENTRIES_KEPT)


def _newest(entries: list[CacheEntry]) -> CacheEntry | None:
    return max(entries, key=lambda e: (e.saved_us, e.name), default=None)


def _encode(text: str) -> str:
    """A key as one blob-key segment; per character, so prefixes are kept (`.` too, so `.` and `..` are safe)."""
    return quote(text, safe="").replace(".", "%2E")
