"""Running a buildspec on this machine with the same engine the workers use, without a server or a database.

What CodeBuild's local agent does, without Docker: the current directory is the source (copied into a fresh
workspace, or used in place), phases run in one bash, the log streams to the terminal as it is written, and the
artifact and the log can be written to a local folder. The caller decides the exit status from the result.
"""

from __future__ import annotations

import getpass
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from conveyor.blobs import LocalBlobStore
from conveyor.build.cache_store import CacheStore
from conveyor.build.environment import BuildIdentity, codebuild_variables
from conveyor.build.log import BuildLog
from conveyor.build.runner import BuildRequest, BuildResult, BuildRunner
from conveyor.build.secrets import SecretSource
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.git import head_commit
from conveyor.git_credentials import GitCredential


@dataclass
class PhaseRecord:
    phase: PhaseType
    started: float
    ended: float | None = None
    status: BuildStatus | None = None
    contexts: list[dict[str, str]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return (self.ended or time.monotonic()) - self.started


class PhaseCollector:
    """Keeps every phase of a local run, and tells `on_change` as each starts and ends."""

    def __init__(self, on_change: Callable[[PhaseRecord], None] | None = None) -> None:
        self.phases: list[PhaseRecord] = []
        self.on_change = on_change

    def phase_started(self, phase: PhaseType) -> None:
        self.phases.append(PhaseRecord(phase, time.monotonic()))
        if self.on_change:
            self.on_change(self.phases[-1])

    def phase_ended(self, phase: PhaseType, status: BuildStatus, contexts: list[dict[str, str]]) -> None:
        record = self.phases[-1]
        record.ended, record.status, record.contexts = time.monotonic(), status, contexts
        if self.on_change:
            self.on_change(record)

    def checkpoint(self) -> None:
        """Nothing waits: phases are shown as they end."""


@dataclass
class LocalRun:
    result: BuildResult
    phases: list[PhaseRecord]
    build_id: str
    artifact: Path | None  # the artifact zip, when an artifacts folder was given and the build made one
    log: Path | None


def run_local(
    source: Path,
    *,
    buildspec_file: Path | None = None,
    environment: dict[str, str] | None = None,
    artifacts_dir: Path | None = None,
    in_place: bool = False,
    timeout_minutes: int = 60,
    region: str = "us-east-1",
    on_output: Callable[[str], None] | None = None,
    on_phase: Callable[[PhaseRecord], None] | None = None,
    secrets: SecretSource | None = None,
    sandbox: str = "none",
    network: bool = True,
    cache_dir: Path | None = None,
    runtimes_dir: Path | None = None,
    git_credentials: tuple[GitCredential, ...] = (),
) -> LocalRun:
    """Build `source` with its buildspec (or `buildspec_file`); `environment` wins over the buildspec's."""
    build_id = f"local:{uuid.uuid4()}"
    collector = PhaseCollector(on_phase)
    with tempfile.TemporaryDirectory(prefix="conveyor-local-") as scratch:
        workspace = Path(scratch)
        blobs = LocalBlobStore(workspace / "blobs")
        log = BuildLog(workspace / "build.log", on_flush=on_output)
        identity = _identity(build_id, source, region)
        request = BuildRequest(
            build_id=build_id,
            project_name="local",
            workspace=workspace / "build",
            inputs=(),
            environment={**codebuild_variables(identity), **(environment or {})},
            timeout_seconds=timeout_minutes * 60,
            local_source=source.resolve(),
            in_place=in_place,
            buildspec_file=buildspec_file.resolve() if buildspec_file else None,
            sandbox=sandbox,
            network=network,
            runtimes_dir=runtimes_dir,
            git_credentials=git_credentials,
        )
        try:
            cache = CacheStore(LocalBlobStore(cache_dir), "local", compress=False) if cache_dir else None
            result = BuildRunner(request, blobs, collector, log, secrets=secrets, cache_store=cache).run()
        finally:
            log.close()
        return LocalRun(result, collector.phases, build_id, *_keep(artifacts_dir, blobs, result, log.path))


def _identity(build_id: str, source: Path, region: str) -> BuildIdentity:
    """What CodeBuild's variables say of a local build: build number 1 of project `local`, started by this user at
    the source's checked-out commit."""
    revision = head_commit(source)
    return BuildIdentity(
        build_id=build_id,
        build_number=1,
        project_name="local",
        initiator=_user(),
        start=datetime.now(UTC),
        region=region,
        source_version=revision,
        resolved_source_version=revision,
    )


def _keep(
    folder: Path | None, blobs: LocalBlobStore, result: BuildResult, log: Path
) -> tuple[Path | None, Path | None]:
    if folder is None:
        return None, None
    folder.mkdir(parents=True, exist_ok=True)
    kept_log = folder / "build.log"
    shutil.copyfile(log, kept_log)
    if result.artifact is None:
        return None, kept_log
    kept = folder / Path(result.artifact["key"]).name
    blobs.get_file(result.artifact["key"], kept)
    return kept, kept_log


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"
