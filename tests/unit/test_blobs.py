"""One contract for every BlobStore: a local directory and S3 (moto) must behave alike."""

from __future__ import annotations

import errno
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.blobs import BlobStore, LocalBlobStore, S3BlobStore, open_blob_store
from conveyor.config import Settings, load_settings
from conveyor.errors import ConfigurationError

REGION = "us-east-1"
S3_PREFIX = "some/prefix"


def settings_with(tmp_path: Path, **overrides: Any) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path / "data", **overrides})


@pytest.fixture
def s3_store(tmp_path: Path, fake_aws_credentials: None) -> Iterator[S3BlobStore]:
    with mock_aws():
        bucket = f"conveyor-test-{uuid.uuid4().hex[:12]}"
        settings = settings_with(tmp_path, blob_url=f"s3://{bucket}/{S3_PREFIX}", aws_region=REGION)
        aws.client("s3", settings).create_bucket(Bucket=bucket)
        store = open_blob_store(settings)
        assert isinstance(store, S3BlobStore)
        yield store


@pytest.fixture
def local_store(tmp_path: Path) -> LocalBlobStore:
    store = open_blob_store(settings_with(tmp_path, blob_url=f"file://{tmp_path / 'blobs'}"))
    assert isinstance(store, LocalBlobStore)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> BlobStore:
    fixture = {"local": "local_store", "s3": "s3_store"}[request.param]
    result: BlobStore = request.getfixturevalue(fixture)
    return result


# The contract, for every store.


def test_bytes_round_trip(store: BlobStore) -> None:
    store.put_bytes("builds/demo/1/log.txt", b"line one\nline two\n")

    assert store.get_bytes("builds/demo/1/log.txt") == b"line one\nline two\n"


def test_empty_bytes_round_trip(store: BlobStore) -> None:
    store.put_bytes("empty", b"")

    assert store.get_bytes("empty") == b""
    assert store.exists("empty")


def test_file_round_trip(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "artifact.zip"
    source.write_bytes(b"PK\x03\x04 not really a zip")
    destination = tmp_path / "out" / "artifact.zip"
    destination.parent.mkdir()

    store.put_file("artifacts/demo/artifact.zip", source)
    store.get_file("artifacts/demo/artifact.zip", destination)

    assert destination.read_bytes() == source.read_bytes()


def test_a_file_of_several_megabytes_round_trips(store: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(9 * 1024 * 1024)  # above boto3's 8 MiB multipart threshold
    source = tmp_path / "big.bin"
    source.write_bytes(data)

    store.put_file("caches/big.bin", source)
    store.get_file("caches/big.bin", tmp_path / "copy.bin")

    assert (tmp_path / "copy.bin").read_bytes() == data
    assert store.get_bytes("caches/big.bin") == data


def test_put_overwrites_what_was_there(store: BlobStore, tmp_path: Path) -> None:
    store.put_bytes("k", b"a much longer first version")
    store.put_bytes("k", b"short")
    assert store.get_bytes("k") == b"short"

    source = tmp_path / "third"
    source.write_bytes(b"third")
    store.put_file("k", source)
    assert store.get_bytes("k") == b"third"


def test_exists(store: BlobStore) -> None:
    store.put_bytes("dir/blob", b"x")

    assert store.exists("dir/blob")
    assert not store.exists("dir/other")
    assert not store.exists("dir")  # a prefix of keys is not a blob


def test_delete_removes_the_blob(store: BlobStore) -> None:
    store.put_bytes("a/b", b"x")
    store.put_bytes("a/c", b"y")

    store.delete("a/b")

    assert not store.exists("a/b")
    assert list(store.list()) == ["a/c"]


def test_deleting_a_missing_key_is_not_an_error(store: BlobStore) -> None:
    store.put_bytes("dir/blob", b"x")

    store.delete("never/stored")
    store.delete("dir")  # only a prefix of a key

    assert list(store.list()) == ["dir/blob"]


def test_list_is_sorted_and_filtered_by_prefix(store: BlobStore) -> None:
    for key in ["b/2", "a/1", "b/10", "ab", "c", "b/sub/3"]:
        store.put_bytes(key, key.encode())

    assert list(store.list()) == ["a/1", "ab", "b/10", "b/2", "b/sub/3", "c"]
    assert list(store.list("b/")) == ["b/10", "b/2", "b/sub/3"]
    assert list(store.list("a")) == ["a/1", "ab"]
    assert list(store.list("b/sub/")) == ["b/sub/3"]
    assert list(store.list("zzz")) == []


def test_list_of_an_empty_store_is_empty(store: BlobStore) -> None:
    assert list(store.list()) == []


@pytest.mark.parametrize("key", ["no/such/key", "dir"], ids=["never-stored", "only-a-prefix"])
def test_get_bytes_of_a_missing_key_raises_file_not_found(store: BlobStore, key: str) -> None:
    store.put_bytes("dir/blob", b"x")

    with pytest.raises(FileNotFoundError):
        store.get_bytes(key)


@pytest.mark.parametrize("key", ["no/such/key", "dir"], ids=["never-stored", "only-a-prefix"])
def test_get_file_of_a_missing_key_raises_file_not_found(store: BlobStore, tmp_path: Path, key: str) -> None:
    store.put_bytes("dir/blob", b"x")
    destination = tmp_path / "out"

    with pytest.raises(FileNotFoundError):
        store.get_file(key, destination)

    assert not destination.exists()


def test_reading_gives_a_file_with_the_blob_and_leaves_nothing_behind(store: BlobStore, tmp_path: Path) -> None:
    store.put_bytes("inputs/source.zip", b"zipped source")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    with store.reading("inputs/source.zip", scratch) as path:
        assert path.read_bytes() == b"zipped source"

    assert list(scratch.iterdir()) == []
    assert store.get_bytes("inputs/source.zip") == b"zipped source"


def test_writing_stores_the_blob_when_the_block_ends(store: BlobStore, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with store.writing("builds/demo/1/artifact.zip", scratch) as handle:
        handle.write(b"zipped ")
        handle.write(b"artifact")
        assert not store.exists("builds/demo/1/artifact.zip")

    assert store.get_bytes("builds/demo/1/artifact.zip") == b"zipped artifact"
    assert list(scratch.iterdir()) == []


def test_writing_that_fails_stores_nothing_and_keeps_what_was_there(store: BlobStore, tmp_path: Path) -> None:
    store.put_bytes("builds/demo/1/artifact.zip", b"old")
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    with pytest.raises(RuntimeError, match="zipping failed"), store.writing("builds/demo/1/artifact.zip", scratch):
        raise RuntimeError("zipping failed")

    assert store.get_bytes("builds/demo/1/artifact.zip") == b"old"
    assert list(store.list()) == ["builds/demo/1/artifact.zip"]
    assert list(scratch.iterdir()) == []
    if isinstance(store, LocalBlobStore):  # nor a temporary file beside it
        assert [p.name for p in store.root.rglob("*") if p.is_file()] == ["artifact.zip"]


def test_reading_a_missing_key_raises_file_not_found(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), store.reading("inputs/missing.zip", tmp_path):
        pytest.fail("there is nothing to read")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "..", "a/../b", "../a", "a/..", "a//b", "a/", "./a", "a/./b"])
def test_invalid_keys_are_refused(store: BlobStore, tmp_path: Path, key: str) -> None:
    source = tmp_path / "source"
    source.write_bytes(b"x")
    operations = [
        lambda: store.put_bytes(key, b"x"),
        lambda: store.put_file(key, source),
        lambda: store.get_bytes(key),
        lambda: store.get_file(key, tmp_path / "out"),
        lambda: store.exists(key),
        lambda: store.delete(key),
        lambda: store.url(key),
    ]

    for operation in operations:
        with pytest.raises(ValueError, match="invalid blob key"):
            operation()

    assert list(store.list()) == []


def test_local_url_is_a_file_url_of_the_blob(local_store: LocalBlobStore) -> None:
    local_store.put_bytes("logs/build 1.txt", b"hello")

    url = local_store.url("logs/build 1.txt")

    assert url == (local_store.root / "logs" / "build 1.txt").as_uri()
    assert url.startswith("file:///")


def test_s3_url_names_bucket_prefix_and_key(s3_store: S3BlobStore) -> None:
    assert s3_store.url("logs/1.txt") == f"s3://{s3_store.bucket}/{S3_PREFIX}/logs/1.txt"


# S3: the prefix in the blob URL.


def test_s3_objects_are_stored_under_the_prefix(s3_store: S3BlobStore) -> None:
    s3_store.put_bytes("logs/1.txt", b"hello")

    stored = s3_store.client.get_object(Bucket=s3_store.bucket, Key=f"{S3_PREFIX}/logs/1.txt")

    assert stored["Body"].read() == b"hello"


def test_s3_listing_neither_shows_the_prefix_nor_objects_outside_it(s3_store: S3BlobStore) -> None:
    for outside in ["elsewhere/x", "some/prefixed-sibling/y", "some/z"]:
        s3_store.client.put_object(Bucket=s3_store.bucket, Key=outside, Body=b"not ours")
    s3_store.put_bytes("mine", b"ours")

    assert list(s3_store.list()) == ["mine"]
    assert list(s3_store.list("m")) == ["mine"]
    assert not s3_store.exists("x")


def test_s3_store_without_a_prefix_uses_the_whole_bucket(s3_store: S3BlobStore) -> None:
    whole = S3BlobStore(s3_store.bucket, "", s3_store.client)

    whole.put_bytes("top", b"1")
    s3_store.put_bytes("inner", b"2")

    assert list(whole.list()) == [f"{S3_PREFIX}/inner", "top"]
    assert whole.url("top") == f"s3://{s3_store.bucket}/top"


# Local: writes are atomic.


def _open_fifo_for_writing(fifo: Path, writer_of: Future[None]) -> int:
    """Open the FIFO once the store reads it, failing (not hanging) if the store gave up first."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or writer_of.done() or time.monotonic() > deadline:
                writer_of.result(timeout=0)
                raise
        time.sleep(0.01)


def test_local_write_in_progress_is_not_visible_under_its_key(local_store: LocalBlobStore, tmp_path: Path) -> None:
    local_store.put_bytes("artifact", b"old contents")
    fifo = tmp_path / "slow-source"
    os.mkfifo(fifo)

    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(local_store.put_file, "artifact", fifo)
        descriptor = _open_fifo_for_writing(fifo, writing)
        try:
            os.write(descriptor, b"half of the new")
            assert [p.suffix for p in local_store.root.iterdir() if p.name != "artifact"] == [".partial"]
            assert local_store.get_bytes("artifact") == b"old contents"
            assert list(local_store.list()) == ["artifact"]
            os.write(descriptor, b" contents")
        finally:
            os.close(descriptor)
        writing.result(timeout=10)

    assert local_store.get_bytes("artifact") == b"half of the new contents"
    assert sorted(p.name for p in local_store.root.iterdir()) == ["artifact"]


def test_local_reading_copies_nothing(local_store: LocalBlobStore, tmp_path: Path) -> None:
    local_store.put_bytes("inputs/source.zip", b"zipped source")

    with local_store.reading("inputs/source.zip", tmp_path / "not-even-made") as path:
        assert path == local_store.root / "inputs" / "source.zip"


def test_local_failed_write_leaves_no_key_and_no_temporary_file(local_store: LocalBlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        local_store.put_file("dir/new", tmp_path / "missing-source")

    assert not local_store.exists("dir/new")
    assert list(local_store.list()) == []
    assert [p for p in local_store.root.rglob("*") if p.is_file()] == []


def test_local_failed_overwrite_keeps_the_old_blob(local_store: LocalBlobStore, tmp_path: Path) -> None:
    local_store.put_bytes("k", b"old")

    with pytest.raises(FileNotFoundError):
        local_store.put_file("k", tmp_path / "missing-source")

    assert local_store.get_bytes("k") == b"old"
    assert sorted(p.name for p in local_store.root.iterdir()) == ["k"]


# Choosing the store from the settings.


def test_open_blob_store_opens_a_local_directory(tmp_path: Path) -> None:
    store = open_blob_store(settings_with(tmp_path, blob_url=f"file://{tmp_path / 'store'}"))

    store.put_bytes("a/b", b"x")

    assert (tmp_path / "store" / "a" / "b").read_bytes() == b"x"


def test_the_default_blob_store_is_a_directory_in_the_data_dir(tmp_path: Path) -> None:
    store = open_blob_store(settings_with(tmp_path))

    store.put_bytes("k", b"x")

    assert (tmp_path / "data" / "blobs" / "k").read_bytes() == b"x"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://host/path",
        "gs://bucket/prefix",
        "/just/a/path",
        "s3:///prefix-without-bucket",
        "s3://",
        "file://relative",
    ],
)
def test_open_blob_store_refuses_urls_it_cannot_serve(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_blob_store(settings_with(tmp_path, blob_url=url))

    assert repr(url) in caught.value.message


def test_s3_blob_url_gives_the_bucket_and_prefix(s3_store: S3BlobStore) -> None:
    assert s3_store.bucket.startswith("conveyor-test-")
    assert s3_store.prefix == S3_PREFIX


# The boto3 client factory behind the S3 store.


def test_aws_clients_are_cached_per_service_and_region(tmp_path: Path, fake_aws_credentials: None) -> None:
    settings = settings_with(tmp_path, aws_region="eu-west-1")

    first = aws.client("s3", settings)

    assert aws.client("s3", settings) is first
    assert first.meta.region_name == "eu-west-1"
    other_region = aws.client("s3", settings, region="us-west-2")
    assert other_region is not first
    assert other_region.meta.region_name == "us-west-2"
    aws.reset()
    assert aws.client("s3", settings) is not first


def test_aws_client_uses_the_configured_endpoint(tmp_path: Path, fake_aws_credentials: None) -> None:
    settings = settings_with(tmp_path, aws_endpoint_url="http://127.0.0.1:9000")

    client = aws.client("s3", settings)

    assert client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert aws.client("s3", settings_with(tmp_path)) is not client


def test_a_role_arn_gives_a_client_signed_with_the_roles_temporary_credentials(
    tmp_path: Path, fake_aws_credentials: None
) -> None:
    settings = settings_with(tmp_path, aws_region="eu-west-1")
    role = "arn:aws:iam::123456789012:role/deployer"
    with mock_aws():
        own = aws.client("s3", settings)
        assumed = aws.client("s3", settings, role_arn=role)

        own_key = own._request_signer._credentials.access_key
        assumed_key = assumed._request_signer._credentials.access_key
        assert assumed_key != own_key
        assert assumed._request_signer._credentials.token  # a session token: temporary credentials
        assert aws.client("s3", settings, role_arn=role) is assumed  # cached until shortly before they expire
        assert aws.client("s3", settings, role_arn="arn:aws:iam::123456789012:role/other") is not assumed
