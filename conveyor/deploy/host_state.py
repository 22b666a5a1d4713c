"""What a deployment agent keeps on its host, per deployment group, as the CodeDeploy agent keeps its deployment-root.

Layout under the agent's root directory:

    <group id>/<deployment id>/deployment-archive/               the revision's bundle, extracted
    <group id>/<deployment id>/logs/scripts.log                  what that deployment's hook scripts wrote
    deployment-instructions/<group id>_last_successful_install   the deployment whose Install last succeeded
    deployment-instructions/<group id>_most_recent_install       the deployment that last received a bundle
    deployment-instructions/<group id>-cleanup                   the paths the last Install created, one a line
    deployment-instructions/<group id>_history                   the group's deployments in the order they came

Lifecycle of one deployment on the host:

1. `begin_deployment` (DownloadBundle) prunes the group's old deployment directories, keeping `max_revisions` of
   them with the new one (never the last successful install's), then creates the new one and makes it the most
   recent install. `unpack_bundle` extracts the revision into its deployment-archive.
2. The Install event removes the paths of the cleanup list (`cleanup_list`, `clear_cleanup_list`), writes the new
   list as it copies (`cleanup_writer`) and, when it succeeds, calls `record_successful_install`. As with the
   CodeDeploy agent, the last successful install moves when Install succeeds, not when the whole deployment does: the
   next deployment's ApplicationStop (a rollback's included) stops what was installed last.
3. `scripts_archive` says which archive an event's scripts come from: ApplicationStop and the BlockTraffic hooks
   run before a deployment has its own bundle, so they use the last successful install's (none on a host's first
   deployment: the event has nothing to run).

Nothing is cached in memory: a new HostState over the same directory (the agent restarted) sees what the last one
left. An agent works one deployment at a time, so nothing here takes a lock.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conveyor.archives import ArchiveError, extract_zip
from conveyor.errors import ConfigurationError, ConveyorError, InvalidRequest

MAX_REVISIONS = 5  # deployment directories kept per group, as the CodeDeploy agent's max_revisions
ARCHIVE = "deployment-archive"
INSTRUCTIONS = "deployment-instructions"
BUNDLE_TYPES = ("zip", "tar", "tgz")
APPSPEC_NAMES = ("appspec.yml", "appspec.yaml")
_SUFFIXES = {".zip": "zip", ".tar": "tar", ".tgz": "tgz", ".tar.gz": "tgz"}


def bundle_type_of(filename: str) -> str:
    """The bundle type a file name says (`app.zip` → zip, `app.tar.gz` → tgz)."""
    for suffix, bundle_type in sorted(_SUFFIXES.items(), key=lambda item: -len(item[0])):
        if filename.lower().endswith(suffix):
            return bundle_type
    raise InvalidRequest(f"bundle {filename!r}: the name must end in .zip, .tar, .tgz or .tar.gz")


class HostStateError(ConveyorError):
    """The agent's local state cannot be used as asked (a bad id, an unreadable bundle)."""


@dataclass(frozen=True)
class DeploymentDirectory:
    """Where one deployment of a group lives on the host."""

    group_id: str
    deployment_id: str
    path: Path

    @property
    def archive(self) -> Path:
        return self.path / ARCHIVE

    @property
    def script_log(self) -> Path:
        return self.path / "logs" / "scripts.log"


class HostState:
    def __init__(self, root: Path, max_revisions: int = MAX_REVISIONS) -> None:
        if max_revisions < 1:
            raise ConfigurationError(f"max_revisions must be at least 1 (got {max_revisions})")
        self.root = root
        self.max_revisions = max_revisions

    @property
    def instructions(self) -> Path:
        return self.root / INSTRUCTIONS

    def deployment(self, group_id: str, deployment_id: str) -> DeploymentDirectory:
        """The directory of a deployment (whether or not it exists yet)."""
        _check_id("deployment group id", group_id)
        _check_id("deployment id", deployment_id)
        return DeploymentDirectory(group_id, deployment_id, self.root / group_id / deployment_id)

    # -- DownloadBundle ---------------------------------------------------------------------------------------------

    def begin_deployment(self, group_id: str, deployment_id: str) -> DeploymentDirectory:
        """Prune the group's old deployments, then create this one's directory and make it the most recent install."""
        deployment = self.deployment(group_id, deployment_id)
        self.prune(group_id, keep=deployment_id)
        (deployment.path / "logs").mkdir(parents=True, exist_ok=True)
        if deployment_id not in self._history(group_id):
            with self._append(f"{group_id}_history") as history:
                history.write(deployment_id + "\n")
        self._write_pointer(f"{group_id}_most_recent_install", deployment_id)
        return deployment

    def unpack_bundle(self, deployment: DeploymentDirectory, bundle: Path, bundle_type: str = "zip") -> Path:
        """Extract a revision bundle into the deployment's archive (replacing what was there); return the archive.

        A bundle whose only top-level entry is a directory holding the appspec is unpacked from that directory, as
        the CodeDeploy agent accepts it.
        """
        if bundle_type not in BUNDLE_TYPES:
            raise HostStateError(f"bundle type {bundle_type!r} is not supported: use one of {', '.join(BUNDLE_TYPES)}")
        shutil.rmtree(deployment.archive, ignore_errors=True)
        deployment.archive.mkdir(parents=True)
        try:
            if bundle_type == "zip":
                extract_zip(bundle, deployment.archive)
            else:
                _extract_tar(bundle, deployment.archive)
        except ArchiveError as exc:
            raise HostStateError(f"the revision of deployment {deployment.deployment_id}: {exc.message}") from None
        _lift_nested_root(deployment.archive)
        return deployment.archive

    # -- which revision --------------------------------------------------------------------------------------------

    def last_successful_install(self, group_id: str) -> DeploymentDirectory | None:
        """The deployment whose Install last succeeded in this group, if its archive is still on the host."""
        return self._pointed(group_id, "_last_successful_install")

    def most_recent_install(self, group_id: str) -> DeploymentDirectory | None:
        """The deployment that last received a bundle in this group, if its archive is still on the host."""
        return self._pointed(group_id, "_most_recent_install")

    def record_successful_install(self, group_id: str, deployment_id: str) -> None:
        self.deployment(group_id, deployment_id)  # checks the ids
        self._write_pointer(f"{group_id}_last_successful_install", deployment_id)

    def scripts_archive(self, group_id: str, deployment_id: str, *, last_successful: bool) -> Path | None:
        """The archive an event's scripts run from; None when there is none (the event has nothing to run).

        `last_successful` is for the events that run the previous revision's scripts (ApplicationStop,
        BeforeBlockTraffic, AfterBlockTraffic): they use this deployment's archive only once it has one.
        """
        current = self.deployment(group_id, deployment_id).archive
        if not last_successful or current.is_dir():
            return current if current.is_dir() else None
        previous = self.last_successful_install(group_id)
        return previous.archive if previous is not None else None

    # -- the cleanup list -------------------------------------------------------------------------------------------

    def cleanup_list(self, group_id: str) -> list[Path]:
        """The paths the group's last Install created, in the order it created them.

        A last line cut short (the agent stopped while writing it) is ignored: its path was not created yet.
        """
        _check_id("deployment group id", group_id)
        path = self.instructions / f"{group_id}-cleanup"
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [Path(json.loads(line)) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def clear_cleanup_list(self, group_id: str) -> None:
        _check_id("deployment group id", group_id)
        (self.instructions / f"{group_id}-cleanup").unlink(missing_ok=True)

    @contextmanager
    def cleanup_writer(self, group_id: str) -> Iterator[CleanupWriter]:
        """Append to the group's cleanup list, one path at a time, each written before the path is created."""
        _check_id("deployment group id", group_id)
        with self._append(f"{group_id}-cleanup") as file:
            yield CleanupWriter(file)

    # -- pruning ----------------------------------------------------------------------------------------------------

    def deployments(self, group_id: str) -> list[str]:
        """The group's deployment directories on the host, oldest first."""
        _check_id("deployment group id", group_id)
        group = self.root / group_id
        if not group.is_dir():
            return []
        present = {entry.name: entry for entry in os.scandir(group) if entry.is_dir(follow_symlinks=False)}
        history = [d for d in self._history(group_id) if d in present]
        strays = sorted(set(present) - set(history), key=lambda d: (present[d].stat().st_mtime_ns, d))
        return strays + history  # directories the history does not know are older than it: it starts with them

    def prune(self, group_id: str, keep: str) -> list[str]:
        """Remove the oldest deployments beyond `max_revisions` (counting `keep`); return the ids removed.

        `keep` and the last successful install are never removed.
        """
        others = [d for d in self.deployments(group_id) if d != keep]
        extra = len(others) - (self.max_revisions - 1)
        if extra <= 0:
            return []
        last = self._read_pointer(f"{group_id}_last_successful_install")
        removed = [d for d in others if d != last][:extra]
        for deployment_id in removed:
            shutil.rmtree(self.root / group_id / deployment_id)
        return removed

    def forget_group(self, group_id: str) -> None:
        """Remove every deployment of the group from the host and its pointers (its cleanup list included)."""
        _check_id("deployment group id", group_id)
        shutil.rmtree(self.root / group_id, ignore_errors=True)
        for suffix in ("_last_successful_install", "_most_recent_install", "-cleanup", "_history"):
            (self.instructions / f"{group_id}{suffix}").unlink(missing_ok=True)

    # -- files under deployment-instructions ------------------------------------------------------------------------

    def _pointed(self, group_id: str, suffix: str) -> DeploymentDirectory | None:
        _check_id("deployment group id", group_id)
        deployment_id = self._read_pointer(group_id + suffix)
        if deployment_id is None:
            return None
        deployment = self.deployment(group_id, deployment_id)
        return deployment if deployment.archive.is_dir() else None

    def _read_pointer(self, name: str) -> str | None:
        try:
            return (self.instructions / name).read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def _write_pointer(self, name: str, value: str) -> None:
        """Replace a pointer file at once, so a crash leaves the old value or the new one."""
        self.instructions.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.instructions, prefix=f".{name}.")
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(value + "\n")
        os.replace(temporary, self.instructions / name)

    def _history(self, group_id: str) -> list[str]:
        try:
            return (self.instructions / f"{group_id}_history").read_text(encoding="utf-8").split()
        except FileNotFoundError:
            return []

    @contextmanager
    def _append(self, name: str) -> Iterator[IO[str]]:
        self.instructions.mkdir(parents=True, exist_ok=True)
        with (self.instructions / name).open("a", encoding="utf-8") as file:
            yield file


class CleanupWriter:
    """Adds paths to a cleanup list; each line is flushed at once, so a crash loses nothing already created."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file

    def add(self, path: Path) -> None:
        self._file.write(json.dumps(str(path)) + "\n")  # JSON: a path may hold a newline
        self._file.flush()


def _check_id(what: str, value: str) -> None:
    """Refuse ids that are no single, ordinary directory name (they name directories under the agent's root)."""
    if not value or value in (".", "..", INSTRUCTIONS) or "/" in value or "\0" in value or value.strip() != value:
        raise HostStateError(f"{what} {value!r} cannot name a directory of the agent's state")


def _extract_tar(bundle: Path, destination: Path) -> None:
    """Extract a tar or gzipped tar bundle, refusing what would land outside (tarfile's `data` filter)."""
    try:
        with tarfile.open(bundle) as archive:
            archive.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ArchiveError(f"{bundle.name} is not a tar bundle that can be extracted: {exc}") from None


def _lift_nested_root(archive: Path) -> None:
    """Move the contents of a lone top-level directory that holds the appspec up to the archive's root."""
    entries = list(archive.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    nested = entries[0]
    if not any((nested / name).is_file() for name in APPSPEC_NAMES):
        return
    moved = archive.with_name(ARCHIVE + ".nested")
    shutil.rmtree(moved, ignore_errors=True)
    nested.rename(moved)
    archive.rmdir()
    moved.rename(archive)
