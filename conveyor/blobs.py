"""Blob storage for artifacts, logs, caches and bundles: a local directory or S3, behind one small interface.

Keys are relative, `/`-separated paths (`builds/demo/1a2b/artifact.zip`). A missing key raises FileNotFoundError
in both implementations.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from conveyor import aws
from conveyor.config import Settings, make_folder
from conveyor.errors import ConfigurationError


def check_key(key: str) -> str:
    """Refuse keys that are absolute, empty, or climb out with `..`."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid blob key {key!r}")
    return key


class BlobStore(ABC):
    @abstractmethod
    def put_file(self, key: str, source: Path) -> None:
        """Store the file at `source` under `key`, replacing what was there."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`."""

    @abstractmethod
    def get_file(self, key: str, destination: Path) -> None:
        """Write the blob to `destination`."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Return the whole blob."""

    @contextmanager
    def reading(self, key: str, scratch: Path) -> Iterator[Path]:
        """A file on this machine holding the blob, to read while the block runs: a copy in `scratch`, removed
        afterwards, unless the store keeps the blob as a file of its own (then that file, nothing copied)."""
        copy = scratch / f".blob-{uuid.uuid4().hex}"
        try:
            self.get_file(key, copy)
            yield copy
        finally:
            copy.unlink(missing_ok=True)

    @contextmanager
    def writing(self, key: str, scratch: Path) -> Iterator[BinaryIO]:
        """A file to write the blob into, stored under `key` when the block ends without error (never in part):
        staged in `scratch` and then stored, unless the store keeps blobs as files (then written in place)."""
        staged = scratch / f".blob-{uuid.uuid4().hex}"
        try:
            with staged.open("wb") as handle:
                yield handle
            self.put_file(key, staged)
        finally:
            staged.unlink(missing_ok=True)

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether `key` holds a blob."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; removing a missing key is not an error."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix`, in lexical order."""

    @abstractmethod
    def url(self, key: str) -> str:
        """Where a person or tool can find the blob (`file://…` or `s3://…`)."""


class LocalBlobStore(BlobStore):
    """Blobs as files under a root directory; writes are atomic (temporary file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        make_folder(self.root, "blob directory")

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put_file(self, key: str, source: Path) -> None:
        with self._atomic(key) as handle, source.open("rb") as src:
            shutil.copyfileobj(src, handle, 1024 * 1024)

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._atomic(key) as handle:
            handle.write(data)

    def _atomic(self, key: str) -> _AtomicFile:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return _AtomicFile(path)

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():  # a directory is a key prefix, not a blob: missing, as in S3
            raise FileNotFoundError(f"no blob {key!r}")
        return path

    def get_file(self, key: str, destination: Path) -> None:
        shutil.copyfile(self._existing(key), destination)

    @contextmanager
    def reading(self, key: str, scratch: Path) -> Iterator[Path]:
        yield self._existing(key)  # replaced only by a rename: a reader that opened it keeps what it opened

    @contextmanager
    def writing(self, key: str, scratch: Path) -> Iterator[BinaryIO]:
        with self._atomic(key) as handle:
            yield handle

    def get_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            path.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        yield from sorted(k for k in keys if k.startswith(prefix) and not k.endswith(".partial"))

    def url(self, key: str) -> str:
        return self._path(key).as_uri()


class _AtomicFile:
    """A temporary file beside `path`, renamed over it when the block ends without error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial")
        self.temporary = Path(name)
        self.handle = os.fdopen(fd, "wb")
        return self.handle

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.handle.close()
        if exc_type is None:
            os.replace(self.temporary, self.path)
        else:
            self.temporary.unlink(missing_ok=True)


class S3BlobStore(BlobStore):
    """Blobs as objects in an S3 bucket (AWS, MinIO, …) under an optional prefix."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_file(self, key: str, source: Path) -> None:
        self.client.upload_file(str(source), self.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_file(self, key: str, destination: Path) -> None:
        with _S3Missing(key):
            self.client.download_file(self.bucket, self._key(key), str(destination))

    def get_bytes(self, key: str) -> bytes:
        body: bytes = b""
        with _S3Missing(key):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        return body

    def exists(self, key: str) -> bool:
        try:
            with _S3Missing(key):
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str = "") -> Iterator[str]:
        full_prefix = f"{self.prefix}/{prefix}" if self.prefix else prefix  # a prefix need not be a whole key
        strip = len(f"{self.prefix}/") if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
            for item in page.get("Contents", []):
                yield item["Key"][strip:]

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


class _S3Missing:
    """Turn S3's NoSuchKey / 404 into FileNotFoundError."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> None:
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise FileNotFoundError(f"no blob {self.key!r}") from exc


def open_blob_store(settings: Settings) -> BlobStore:
    """The store named by `blob_url`: `file:///path` or `s3://bucket/prefix`."""
    parsed = urlparse(settings.blob_url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost") or not parsed.path.startswith("/"):
            raise ConfigurationError(f"blob URL {settings.blob_url!r} is not an absolute path: use file:///path")
        return LocalBlobStore(Path(parsed.path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigurationError(f"blob URL {settings.blob_url!r} names no bucket: use s3://bucket/prefix")
        return S3BlobStore(parsed.netloc, parsed.path, aws.client("s3", settings))
    raise ConfigurationError(f"unsupported blob URL {settings.blob_url!r}: use file:///path or s3://bucket/prefix")
