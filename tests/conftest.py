"""Shared fixtures: real Redis (a database of its own, flushed around each test), SQLite and PostgreSQL, and
settings pointing at a temporary data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from rq import SimpleWorker
from sqlalchemy import create_engine, text

from conveyor import aws
from conveyor.config import Settings, load_settings
from conveyor.db import Database
from conveyor.db.migrate import upgrade
from conveyor.db.scratch import scratch_postgres
from conveyor.queues import worker_queues
from conveyor.runtime import Runtime
from jobs.runtime import make_runtime, prepare, use_runtime
from tests.support.gitrepo import GitRepo, make_repo

pytest_plugins = ["tests.support.receivers"]  # slack_api, github_api, webhook_receiver


def _redis_url() -> str:
    """The Redis database of this test process: the configured one, or, when the suite runs in parallel
    (pytest-xdist worker gwN), the N-th one below it, so workers never flush each other's queues."""
    configured = os.environ.get("CONVEYOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return configured
    server, _, database = configured.rpartition("/")
    return f"{server}/{int(database) - int(worker[2:])}"


REDIS_URL = _redis_url()
POSTGRES_URL = os.environ.get("CONVEYOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
WEBHOOK_SECRET = "It's a Secret to Everybody"
AWS_REGION = "us-east-1"  # the region fake_aws_credentials sets; moto serves it


def _postgres_reachable() -> str | None:
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg.Error as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def postgres_server() -> str:
    problem = _postgres_reachable()
    if problem:
        if os.environ.get("CONVEYOR_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unreachable at {POSTGRES_URL}: {problem}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    return POSTGRES_URL


def new_postgres_database(server: str) -> contextlib.AbstractContextManager[str]:
    """A new, empty database on the PostgreSQL server, dropped afterwards."""
    return scratch_postgres(server, "conveyor_test")


@pytest.fixture(scope="session")
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A database of this test session's own, shared by the tests (emptied after each)."""
    with new_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database at the newest schema, made once per test process and copied for each test: migrating a new
    file costs about a fifth of a second, copying it a millisecond. (The migrations themselves are tested from an
    empty database: see `empty_database_url`.)"""
    path = tmp_path_factory.mktemp("sqlite-template") / "conveyor.db"
    database = Database(f"sqlite:///{path}")
    try:
        upgrade(database)
    finally:
        database.dispose()
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, which alone is copied
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "conveyor.db")
        yield f"sqlite:///{tmp_path / 'conveyor.db'}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
            )
        ]
        if tables:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
    engine.dispose()


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is required at {REDIS_URL}: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def settings_for(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "redis_url": REDIS_URL,
        "blob_url": f"file://{tmp_path / 'blobs'}",
        "github_webhook_secret": WEBHOOK_SECRET,
        "lease_seconds": 3,
        "reconcile_interval": 0.2,
        "git_retries": 1,
        "git_timeout": 30,
        **overrides,
    }
    return load_settings(environ={}, overrides=values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_client: redis.Redis) -> Settings:
    return settings_for(tmp_path, database_url)


@pytest.fixture
def rt(settings: Settings) -> Iterator[Runtime]:
    prepare(settings)
    runtime = make_runtime(settings)
    use_runtime(runtime)
    yield runtime
    use_runtime(None)
    runtime.db.dispose()
    aws.reset()


@pytest.fixture
def run_jobs(rt: Runtime) -> Any:
    """Work every queue in this process until all are empty (jobs that enqueue jobs included)."""

    def work() -> None:
        SimpleWorker(worker_queues(rt.settings), connection=rt.redis).work(burst=True, logging_level="WARNING")

    return work


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def fake_aws_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and no shared config files, set before any client exists; no cached client survives."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    fake = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": AWS_REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }
    for name, value in fake.items():
        monkeypatch.setenv(name, value)
    aws.reset()
    yield
    aws.reset()
