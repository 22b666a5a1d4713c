"""`run-as`: running a build's commands as another Linux user, as CodeBuild does (without it, as the worker's user).

The shell is started under `setpriv` with the user's uid, gid and groups, and the build's workspace is handed to
that user (its owner becomes the user), so the commands can write their source, temporary and home directories.
Switching users needs the worker to run as root, as CodeBuild's agent does; a worker that does not, or a user the
worker does not have, fails the build with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.build.spec import BuildSpec
from conveyor.errors import ConveyorError


class RunAsError(ConveyorError):
    """A `run-as` user cannot be used on this worker."""


@dataclass(frozen=True)
class RunAs:
    name: str
    uid: int
    gid: int
    home: str

    @property
    def is_current(self) -> bool:
        return self.uid == os.geteuid()


@dataclass
class RunAsPlan:
    """Who runs a build's commands: the build's run-as, each phase's own, and whom the shell runs as now."""

    build: RunAs | None = None
    phases: dict[str, RunAs] = field(default_factory=dict)
    current: RunAs | None = None

    @classmethod
    def check(cls, spec: BuildSpec, workspace: Path) -> RunAsPlan:
        """Every run-as user of `spec`, checked before any command runs; RunAsError says what is wrong."""
        build = resolve_user(spec.run_as) if spec.run_as else None
        phases = {p.name: resolve_user(p.run_as) for p in spec.phases if p.run_as}
        for user in [build, *phases.values()]:
            user_prefix(user)  # setpriv present?
            if user is not None and not user.is_current:
                check_reachable(workspace, user)
        return cls(build, phases, build)

    def for_phase(self, name: str) -> RunAs | None:
        return self.phases.get(name, self.build)


def resolve_user(name: str) -> RunAs:
    """The user named (or numbered) `name`, checked to be one this worker can switch to."""
    try:
        entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, ValueError):
        raise RunAsError(f"run-as user {name!r} does not exist on this worker") from None
    user = RunAs(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
    if not user.is_current and os.geteuid() != 0:
        current = pwd.getpwuid(os.geteuid()).pw_name
        raise RunAsError(f"run-as {name!r} needs a worker running as root (this worker runs as {current!r})")
    return user


def user_prefix(user: RunAs | None) -> list[str]:
    """The command prefix that runs a shell as `user` (`[]` when that is who runs it already)."""
    if user is None or user.is_current:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RunAsError("run-as needs setpriv on this worker (Debian/Ubuntu: apt-get install util-linux)")
    return [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--"]


def hand_over(directory: Path, user: RunAs) -> None:
    """Make `user` the owner of everything under `directory` (links themselves, not what they point to).

    Raises RunAsError when a directory above it is closed to the user (`/root` is, by default): the user could not
    reach its own workspace.
    """
    if os.geteuid() != 0:
        return
    check_reachable(directory, user)
    os.chown(directory, user.uid, user.gid)
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)


def check_reachable(directory: Path, user: RunAs) -> None:
    closed = _closed_ancestor(directory, user)
    if closed is not None:
        raise RunAsError(
            f"run-as user {user.name!r} cannot reach the build's workspace: {closed} is closed to it; "
            "put Conveyor's data directory (CONVEYOR_DATA_DIR) where other users may pass through"
        )


def _closed_ancestor(directory: Path, user: RunAs) -> Path | None:
    """The first directory above `directory` that `user` may not pass through (no search permission), if any."""
    groups = set(os.getgrouplist(user.name, user.gid))
    for ancestor in reversed(directory.resolve().parents):
        mode = ancestor.stat()
        if mode.st_uid == user.uid:
            allowed = mode.st_mode & stat.S_IXUSR
        elif mode.st_gid in groups:
            allowed = mode.st_mode & stat.S_IXGRP
        else:
            allowed = mode.st_mode & stat.S_IXOTH
        if not allowed:
            return ancestor
    return None
