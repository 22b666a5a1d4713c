"""Build caches through the real runner and bash: restore before install, save after success, keys and fallbacks."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.blobs import LocalBlobStore, S3BlobStore
from conveyor.build.cache import hash_files
from conveyor.build.cache_store import CacheConfig, CacheStore, open_cache_store
from conveyor.build.spec import parse_buildspec
from conveyor.config import load_settings
from conveyor.errors import SpecError
from tests.unit.test_build_runner import Build, phase, run_build, spec

DEPENDENCIES = (
    '[ -f deps/lib.txt ] && echo "HIT $(cat deps/lib.txt)" '
    '|| { echo MISS; mkdir -p deps/sub && echo "v1" > deps/lib.txt && echo nested > deps/sub/n.txt; }'
)


def cache_spec(cache: str, *commands: str) -> str:
    return spec(phase("install", *(commands or (DEPENDENCIES,)))) + cache


@pytest.fixture
def store(tmp_path: Path) -> CacheStore:
    return CacheStore(LocalBlobStore(tmp_path / "cache"), "demo", compress=False)


def build(tmp_path: Path, store: CacheStore, files: dict[str, str], **options: object) -> Build:
    """A build in a fresh directory of its own, sharing `store` with the others."""
    return run_build(tmp_path / uuid.uuid4().hex, files, cache_store=store, **options)  # type: ignore[arg-type]


def entries(store: CacheStore) -> list[str]:
    return list(store.blobs.list("caches/"))


# -- the buildspec's cache section -----------------------------------------------------------------------------------


def test_the_cache_section_is_parsed() -> None:
    parsed = parse_buildspec(
        "version: 0.2\nphases: {}\ncache:\n  key: npm-$(codebuild-hash-files package-lock.json)\n"
        "  fallback-keys: [npm-]\n  action: restore\n  paths: ['node_modules/**/*', '/root/.m2/**/*']\n"
    )

    assert parsed.cache is not None
    assert parsed.cache.paths == ("node_modules/**/*", "/root/.m2/**/*")
    assert parsed.cache.key == "npm-$(codebuild-hash-files package-lock.json)"
    assert parsed.cache.fallback_keys == ("npm-",)
    assert (parsed.cache.restores, parsed.cache.saves) == (True, False)
    assert parsed.not_yet_run == ()


def test_a_bad_cache_section_reports_every_problem_with_its_line() -> None:
    text = "version: 0.2\nphases: {}\ncache:\n  action: both\n  fallback-keys: [a, b, c, d, e, f]\n  ttl: 3\n"
    with pytest.raises(SpecError) as caught:
        parse_buildspec(text)

    message = str(caught.value)
    assert "buildspec.yml:3: cache.paths: a cache needs a non-empty 'paths' list" in message
    assert "buildspec.yml:4: cache.action: 'both' is not restore or save" in message
    assert "buildspec.yml:5: cache.fallback-keys: at most 5 fallback keys, not 6" in message
    assert "buildspec.yml:6: cache.ttl: unknown key" in message


# -- restore and save ------------------------------------------------------------------------------------------------


def test_the_second_build_finds_what_the_first_cached(tmp_path: Path, store: CacheStore) -> None:
    files = {"buildspec.yml": cache_spec("cache:\n  paths: ['deps/**/*']\n")}

    first = build(tmp_path, store, files)
    second = build(tmp_path, store, files)

    assert first.result.status.value == "SUCCEEDED", first.log
    assert "MISS" in first.output
    assert "Cache miss: no LOCAL cache entry for (the project's cache)" in first.log
    assert "Saved LOCAL cache (the project's cache): 2 entries" in first.log
    assert "HIT v1" in second.output
    assert (second.workspace / "src" / "deps" / "sub" / "n.txt").read_text() == "nested\n"
    assert len(entries(store)) == 1  # the project's cache is replaced, not piled up


def test_a_key_from_hashed_files_changes_with_them_and_falls_back_by_prefix(tmp_path: Path, store: CacheStore) -> None:
    cache = "cache:\n  key: deps-$(codebuild-hash-files lock.txt)\n  fallback-keys: [deps-]\n  paths: [deps]\n"
    files = {"buildspec.yml": cache_spec(cache), "lock.txt": "one\n"}

    first = build(tmp_path, store, files)
    same = build(tmp_path, store, files)
    changed = build(tmp_path, store, {**files, "lock.txt": "two\n"})

    assert "MISS" in first.output
    assert "HIT v1" in same.output
    assert "Restored LOCAL cache key 'deps-" in same.log
    assert "is already saved; not saving it again" in same.log
    assert "HIT v1" in changed.output
    assert "Restored (fallback) LOCAL cache key 'deps-" in changed.log
    keys = {entry.rsplit("/", 2)[-2] for entry in entries(store)}
    source = tmp_path / "hashed"
    source.mkdir()
    (source / "lock.txt").write_text("one\n")
    one = f"deps-{hash_files(source, ['lock.txt'])}"
    (source / "lock.txt").write_text("two\n")
    assert keys == {one, f"deps-{hash_files(source, ['lock.txt'])}"}


def test_a_failed_build_saves_no_cache(tmp_path: Path, store: CacheStore) -> None:
    files = {"buildspec.yml": cache_spec("cache:\n  paths: [deps]\n", DEPENDENCIES, "exit 1")}

    failed = build(tmp_path, store, files)

    assert failed.result.status.value == "FAILED"
    assert entries(store) == []
    assert "Saved" not in failed.log


def test_restore_only_and_save_only(tmp_path: Path, store: CacheStore) -> None:
    restore_only = {"buildspec.yml": cache_spec("cache:\n  key: k\n  action: restore\n  paths: [deps]\n")}
    save_only = {"buildspec.yml": cache_spec("cache:\n  key: k\n  action: save\n  paths: [deps]\n")}

    build(tmp_path, store, restore_only)
    assert entries(store) == []
    saving = build(tmp_path, store, save_only)
    again = build(tmp_path, store, save_only)
    restoring = build(tmp_path, store, restore_only)

    assert "MISS" in saving.output
    assert "Cache miss" not in saving.log
    assert "MISS" in again.output  # save only: nothing restored
    assert "is already saved" in again.log
    assert "HIT v1" in restoring.output


def test_cached_entries_win_over_the_sources_and_links_stay_links(tmp_path: Path, store: CacheStore) -> None:
    make = "mkdir -p deps && echo cached > deps/lib.txt && ln -sf lib.txt deps/link.txt"
    first = build(tmp_path, store, {"buildspec.yml": cache_spec("cache:\n  paths: [deps]\n", make)})
    second = build(
        tmp_path,
        store,
        {"buildspec.yml": cache_spec("cache:\n  paths: [deps]\n", "cat deps/lib.txt"), "deps/lib.txt": "source\n"},
    )

    assert first.result.status.value == "SUCCEEDED", first.log
    assert "cached" in second.output
    link = second.workspace / "src" / "deps" / "link.txt"
    assert link.is_symlink()
    assert link.read_text() == "cached\n"


def test_home_paths_follow_the_builds_home(tmp_path: Path, store: CacheStore) -> None:
    cache = "cache:\n  paths: ['~/.m2/**/*']\n"
    fill = 'mkdir -p "$HOME/.m2" && echo jar > "$HOME/.m2/dep.jar"'
    first, second = tmp_path / "home-one", tmp_path / "home-two"
    build(tmp_path, store, {"buildspec.yml": cache_spec(cache, fill)}, environment={"HOME": str(first)})
    reading = build(
        tmp_path,
        store,
        {"buildspec.yml": cache_spec(cache, 'cat "$HOME/.m2/dep.jar"')},
        environment={"HOME": str(second)},
    )

    assert (first / ".m2" / "dep.jar").exists()
    assert reading.result.status.value == "SUCCEEDED", reading.log
    assert "jar" in reading.output
    assert (second / ".m2" / "dep.jar").read_text() == "jar\n"


def test_an_unsafe_entry_in_a_cache_archive_is_skipped(tmp_path: Path, store: CacheStore) -> None:
    archive = tmp_path / "planted.tar"
    with tarfile.open(archive, "w") as tar:
        for name, target in (("source/ok.txt", None), ("source/escape", "../../../outside"), ("source/../up", None)):
            info = tarfile.TarInfo(name)
            if target is None:
                info.size = 3
                tar.addfile(info, io.BytesIO(b"ok\n"))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
    store.save(None, archive)

    restored = build(tmp_path, store, {"buildspec.yml": cache_spec("cache:\n  paths: [ok.txt]\n", "cat ok.txt")})

    assert "ok" in restored.output
    assert "1 entries" in restored.log
    assert "2 unsafe entries skipped" in restored.log
    assert not (restored.workspace / "src" / "escape").is_symlink()


def test_a_key_that_cannot_be_expanded_is_a_warning_not_a_failure(tmp_path: Path, store: CacheStore) -> None:
    files = {"buildspec.yml": cache_spec("cache:\n  key: $(exit 3)\n  paths: [deps]\n")}

    result = build(tmp_path, store, files)

    assert result.result.status.value == "SUCCEEDED", result.log
    assert "Warning: the cache was not restored: the cache key '$(exit 3)' could not be expanded" in result.log


def test_no_store_means_no_cache_and_says_so(tmp_path: Path) -> None:
    result = run_build(tmp_path, {"buildspec.yml": cache_spec("cache:\n  paths: [deps]\n")})

    assert result.result.status.value == "SUCCEEDED"
    assert "This build has no cache (NO_CACHE)" in result.log


def test_a_workers_local_cache_keeps_only_the_newest_keyed_entries(tmp_path: Path) -> None:
    store = CacheStore(LocalBlobStore(tmp_path / "cache"), "demo", compress=False, keep=2)
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w"):
        pass
    for key in ("k1", "k2", "k3"):
        store.save(key, archive)

    assert store.find("k1") is None
    assert [store.find(k) is not None for k in ("k2", "k3")] == [True, True]


def test_keys_with_dots_and_slashes_are_kept_apart(tmp_path: Path, store: CacheStore) -> None:
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w"):
        pass
    for key in ("..", "a/b", "a.b"):
        store.save(key, archive)

    assert {store.find(k).key for k in ("..", "a/b", "a.b")} == {"..", "a/b", "a.b"}  # type: ignore[union-attr]
    found = store.find("nothing", ("a",))
    assert found is not None
    assert found.key in ("a/b", "a.b")


# -- S3 --------------------------------------------------------------------------------------------------------------


@pytest.fixture
def s3_cache(tmp_path: Path, fake_aws_credentials: None) -> Iterator[tuple[CacheStore, S3BlobStore]]:
    with mock_aws():
        settings = load_settings(environ={}, overrides={"data_dir": tmp_path / "data", "aws_region": "eu-west-1"})
        aws.client("s3", settings).create_bucket(
            Bucket="team-cache", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        store = open_cache_store(settings, CacheConfig("S3", "shared", "team-cache/ci"), LocalBlobStore(tmp_path))
        assert store is not None
        assert isinstance(store.blobs, S3BlobStore)
        yield store, store.blobs
        aws.reset()


def test_an_s3_cache_is_kept_gzipped_in_the_projects_bucket(
    tmp_path: Path, s3_cache: tuple[CacheStore, S3BlobStore]
) -> None:
    store, bucket = s3_cache
    files = {"buildspec.yml": cache_spec("cache:\n  key: deps-1\n  paths: [deps]\n")}

    first = build(tmp_path, store, files)
    second = build(tmp_path, store, files)

    assert "Saved S3 cache key 'deps-1'" in first.log
    assert "HIT v1" in second.output
    (name,) = list(bucket.list("caches/shared/"))
    assert name.startswith("caches/shared/keys/deps-1/")
    assert name.endswith(".tar.gz")
    raw = bucket.client.get_object(Bucket="team-cache", Key=f"ci/{name}")["Body"].read()
    assert raw[:2] == b"\x1f\x8b"


def test_no_cache_and_local_stores_come_from_the_config(tmp_path: Path) -> None:
    settings = load_settings(environ={}, overrides={"data_dir": tmp_path})
    local = open_cache_store(settings, CacheConfig("LOCAL", "demo"), LocalBlobStore(tmp_path / "blobs"))

    assert open_cache_store(settings, CacheConfig("NO_CACHE", "demo"), LocalBlobStore(tmp_path)) is None
    assert local is not None
    assert isinstance(local.blobs, LocalBlobStore)
    assert local.blobs.root == tmp_path / "cache"
    assert not local.compress
