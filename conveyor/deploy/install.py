"""The Install lifecycle event on a host: the revision's `files` copied into place, as the CodeDeploy agent does it.

Contract of `install_revision` (§2.2 of the AWS semantics):

1. The paths the group's previous Install created (its cleanup list) are removed, newest first: files and links
   are deleted, directories only when empty (what scripts put in them stays). The list is then emptied. This comes
   first, as with the CodeDeploy agent: a check below that fails leaves the previous deployment's files removed.
2. The copies are planned and checked before anything is written; every problem is reported at once:
   * a `source` is relative to the revision's root (`/` is the whole revision); one that is missing or climbs out
     of the revision is refused;
   * a file source is copied *into* the `destination` directory; a directory source has its contents copied into
     `destination` (recursively), which is created when missing, with its missing parents;
   * a path that exists now was not installed by the previous deployment (step 1 removed those), and
     `file_exists_behavior` decides: DISALLOW (the default) fails the event, naming every such path; OVERWRITE
     replaces it; RETAIN keeps it (it stays someone else's: not in the cleanup list);
   * a directory where a file is to go (or a file where a directory is), and two sources for one destination, are
     errors whatever the behaviour.
3. The plan is carried out in order; each path goes into the new cleanup list before it is created, so a crash
   leaves a list that covers what exists. Files keep their mode and times; symbolic links are copied as links.
4. `permissions` are applied to what this deployment copied or created (see `conveyor.deploy.permissions`).
5. The deployment becomes the group's last successful install.

Destinations are absolute paths on the host; `host_root` (the real `/` by default) is where that file system
starts, so a directory can stand for a host's root.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePosixPath

from conveyor.deploy.host_state import CleanupWriter, HostState
from conveyor.deploy.permissions import InstallError, Permission, apply_permissions, on_host, plan_permissions

__all__ = ["FileExistsBehavior", "FileMapping", "InstallError", "InstallReport", "Permission", "install_revision"]


class FileExistsBehavior(str, Enum):
    DISALLOW = "DISALLOW"
    OVERWRITE = "OVERWRITE"
    RETAIN = "RETAIN"


@dataclass(frozen=True)
class FileMapping:
    """One entry of an appspec's `files`."""

    source: str
    destination: str


@dataclass
class InstallReport:
    """What one Install did on the host."""

    removed: list[Path] = field(default_factory=list)  # the previous deployment's paths, removed first
    copied: list[Path] = field(default_factory=list)  # files and links this deployment copied
    created: list[Path] = field(default_factory=list)  # directories it created
    retained: list[Path] = field(default_factory=list)  # existing files kept (RETAIN)
    permissions_set: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Copy:
    source: Path
    destination: Path
    replace: bool = False


@dataclass(frozen=True)
class _MakeDirectory:
    path: Path


@dataclass
class _Plan:
    behavior: FileExistsBehavior
    steps: list[_Copy | _MakeDirectory] = field(default_factory=list)
    copies: dict[Path, str] = field(default_factory=dict)  # destination → the files entry it comes from
    directories: set[Path] = field(default_factory=set)
    retained: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def install_revision(
    state: HostState,
    group_id: str,
    deployment_id: str,
    files: Sequence[FileMapping],
    *,
    permissions: Sequence[Permission] = (),
    file_exists_behavior: FileExistsBehavior = FileExistsBehavior.DISALLOW,
    host_root: Path = Path("/"),
    log: Callable[[str], None] = lambda _line: None,
) -> InstallReport:
    """Carry out the Install event of a deployment whose bundle is unpacked; see the module's contract."""
    archive = state.deployment(group_id, deployment_id).archive
    if not archive.is_dir():
        raise InstallError(f"deployment {deployment_id} has no revision on this host to install from")
    report = InstallReport(removed=remove_previous_install(state, group_id))
    plan = plan_copies(archive, files, file_exists_behavior, host_root)
    copied = [step.destination for step in plan.steps if isinstance(step, _Copy)]
    created = [step.path for step in plan.steps if isinstance(step, _MakeDirectory)]
    targets = plan_permissions(permissions, copied, created, host_root, report.warnings)
    with state.cleanup_writer(group_id) as cleanup:
        _carry_out(plan, cleanup)
    report.copied, report.created, report.retained = copied, created, plan.retained
    report.permissions_set = apply_permissions(targets)
    for warning in report.warnings:
        log(f"Warning: {warning}")
    log(f"Installed {len(copied)} files and {len(created)} directories; kept {len(plan.retained)} that existed")
    state.record_successful_install(group_id, deployment_id)
    return report


def remove_previous_install(state: HostState, group_id: str) -> list[Path]:
    """Remove what the group's previous Install created (newest first); return the paths removed."""
    removed: list[Path] = []
    for path in reversed(state.cleanup_list(group_id)):
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
        else:
            continue  # gone already, or a directory something else put files in
        removed.append(path)
    state.clear_cleanup_list(group_id)
    return removed


def plan_copies(archive: Path, files: Sequence[FileMapping], behavior: FileExistsBehavior, host_root: Path) -> _Plan:
    """The copies and directories the `files` call for; InstallError with every problem found."""
    plan = _Plan(behavior)
    for index, mapping in enumerate(files):
        where = f"files[{index}]"
        source = _source(archive, mapping.source, where, plan.problems)
        if not mapping.destination.startswith("/"):
            plan.problems.append(f"{where}: destination {mapping.destination!r} is not an absolute path")
            continue
        if source is None:
            continue
        destination = on_host(host_root, mapping.destination)
        if source.is_dir() and not source.is_symlink():
            _plan_directory(plan, source, destination, where, host_root)
        else:
            _plan_file(plan, source, destination / source.name, where, host_root)
    if plan.problems:
        raise InstallError("the files cannot be installed:\n  " + "\n  ".join(plan.problems))
    return plan


def _source(archive: Path, source: str, where: str, problems: list[str]) -> Path | None:
    relative = PurePosixPath(source.lstrip("/"))
    if ".." in relative.parts:
        problems.append(f"{where}: source {source!r} leads outside the revision")
        return None
    path = archive.joinpath(*relative.parts)
    if not path.is_symlink() and not path.exists():
        problems.append(f"{where}: source {source!r} does not exist in the revision")
        return None
    return path


def _plan_directory(plan: _Plan, source: Path, destination: Path, where: str, host_root: Path) -> None:
    _plan_parents(plan, destination, where, host_root)
    _plan_mkdir(plan, destination, where)
    for entry in sorted(source.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            _plan_directory(plan, entry, destination / entry.name, where, host_root)
        else:
            _plan_file(plan, entry, destination / entry.name, where, host_root)


def _plan_parents(plan: _Plan, path: Path, where: str, host_root: Path) -> None:
    missing = [p for p in path.parents if p.is_relative_to(host_root) and p != host_root and not _exists(plan, p)]
    for parent in reversed(missing):
        _plan_mkdir(plan, parent, where)


def _plan_mkdir(plan: _Plan, path: Path, where: str) -> None:
    if path in plan.directories:
        return
    if path in plan.copies:
        plan.problems.append(f"{where}: {path} is a directory here but a file in {plan.copies[path]}")
    elif path.is_symlink() or (path.exists() and not path.is_dir()):
        plan.problems.append(f"{where}: {path} exists and is not a directory, but the revision has a directory there")
    elif not path.exists():
        plan.steps.append(_MakeDirectory(path))
    plan.directories.add(path)


def _plan_file(plan: _Plan, source: Path, destination: Path, where: str, host_root: Path) -> None:
    if destination in plan.copies or destination in plan.directories:
        first = plan.copies.get(destination, "a directory of the revision")
        plan.problems.append(f"{where}: {destination} is installed by {first} already")
        return
    plan.copies[destination] = where
    _plan_parents(plan, destination, where, host_root)
    if destination.is_dir() and not destination.is_symlink():
        plan.problems.append(f"{where}: {destination} is a directory, but the revision has a file there")
    elif not os.path.lexists(destination):
        plan.steps.append(_Copy(source, destination))
    elif plan.behavior is FileExistsBehavior.OVERWRITE:
        plan.steps.append(_Copy(source, destination, replace=True))
    elif plan.behavior is FileExistsBehavior.RETAIN:
        plan.retained.append(destination)
    else:
        plan.problems.append(
            f"{where}: {destination} already exists and was not installed by the previous deployment "
            "(file_exists_behavior DISALLOW; OVERWRITE replaces it, RETAIN keeps it)"
        )


def _exists(plan: _Plan, path: Path) -> bool:
    return path in plan.directories or os.path.lexists(path)


def _carry_out(plan: _Plan, cleanup: CleanupWriter) -> None:
    for step in plan.steps:
        target = step.destination if isinstance(step, _Copy) else step.path
        cleanup.add(target)
        try:
            if isinstance(step, _MakeDirectory):
                step.path.mkdir()
            else:
                _copy(step)
        except OSError as exc:
            raise InstallError(f"could not install {target}: {exc.strerror or exc}") from None


def _copy(step: _Copy) -> None:
    if step.replace:
        step.destination.unlink()
    if step.source.is_symlink():
        step.destination.symlink_to(os.readlink(step.source))
    else:
        shutil.copy2(step.source, step.destination, follow_symlinks=False)
