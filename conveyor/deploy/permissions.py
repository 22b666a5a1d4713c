"""An appspec's `permissions`, applied to what one Install copied or created, as the CodeDeploy agent applies them.

Which paths a permission reaches (§2.2 of the AWS semantics):

* An `object` that is a file this deployment copied: that file, when `type` includes `file` (its `pattern` must then
  be `**` and it may have no `except`).
* An `object` that is a directory (this deployment's or one already there): the files this deployment copied
  (`type` file) and the directories it created (`type` directory) below it, never the object itself and never a
  path the deployment did not create. With `pattern: "**"` (the default) every depth matches; any other pattern,
  and every `except` entry, is a glob whose only wildcard is `*`, tested against the name relative to the object,
  so it matches direct children only.
* Anything else: nothing (a warning says so).

A path reached by two entries is an error, as with the CodeDeploy agent. Each path gets its owner and group first,
then its mode (so a chown cannot clear the set-id bits the mode asks for), then its ACLs (`setfacl --set`, the
entries completed from the mode as setfacl needs them). A symbolic link gets only its owner and group: Linux has no
mode or ACL of a link. SELinux `context` is not applied (a warning says so): Conveyor's agent does not manage
SELinux file contexts.

Every problem is found before anything changes, and reported together.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from conveyor.errors import ConveyorError

ALL = "**"
FILE = "file"
DIRECTORY = "directory"
_ACL_ENTRY = re.compile(r"(?:(d|default):)?(u|user|g|group|m|mask|o|other):([^:]*):([rwx-]{1,3}|[0-7])")


class InstallError(ConveyorError):
    """The Install event cannot be carried out as the appspec asks; the message says what is wrong and where."""


@dataclass(frozen=True)
class Permission:
    """One entry of an appspec's `permissions`."""

    object: str
    pattern: str = ALL
    except_: tuple[str, ...] = ()
    owner: str | None = None
    group: str | None = None
    mode: int | None = None
    acls: tuple[str, ...] = ()
    context: Mapping[str, str] | None = None
    types: frozenset[str] = frozenset({FILE, DIRECTORY})


@dataclass(frozen=True)
class PermissionTarget:
    """A path a permission reaches, with the owner and group ids it gives (-1: left alone)."""

    path: Path
    permission: Permission
    uid: int = -1
    gid: int = -1


def on_host(host_root: Path, absolute: str) -> Path:
    """Where an appspec's absolute path lands on a host whose file system starts at `host_root` (`/` for real)."""
    return host_root.joinpath(os.path.normpath("/" + absolute).lstrip("/"))


def plan_permissions(
    permissions: Sequence[Permission],
    copied: Collection[Path],
    created: Collection[Path],
    host_root: Path,
    warnings: list[str],
) -> list[PermissionTarget]:
    """Every (path, permission) to apply, in the agent's order; InstallError with every problem found."""
    problems: list[str] = []
    targets: dict[Path, PermissionTarget] = {}
    for index, permission in enumerate(permissions):
        where = f"permissions[{index}] ({permission.object})"
        uid, gid = _ids(permission, where, problems)
        _check_acls(permission, where, problems)
        for path in _reached(permission, on_host(host_root, permission.object), copied, created, where, problems):
            if path in targets:
                problems.append(f"{where}: {path} also gets its permissions from {targets[path].permission.object}")
            else:
                targets[path] = PermissionTarget(path, permission, uid, gid)
        if permission.context is not None:
            warnings.append(f"{where}: the SELinux context was not applied (the agent does not manage SELinux)")
        if not any(t.permission is permission for t in targets.values()):
            warnings.append(f"{where}: reaches nothing this deployment copied or created")
    if problems:
        raise InstallError("the permissions cannot be applied:\n  " + "\n  ".join(problems))
    return list(targets.values())


def _reached(
    permission: Permission,
    obj: Path,
    copied: Collection[Path],
    created: Collection[Path],
    where: str,
    problems: list[str],
) -> list[Path]:
    if obj in copied:
        if FILE not in permission.types:
            return []
        if permission.pattern != ALL or permission.except_:
            problems.append(f"{where}: the object is a file, so it takes no pattern and no except")
            return []
        return [obj]
    if not (obj in created or obj.is_dir()):
        return []
    found = [p for p in copied if FILE in permission.types and _matches(permission, obj, p)]
    return found + [p for p in created if DIRECTORY in permission.types and _matches(permission, obj, p)]


def _matches(permission: Permission, obj: Path, path: Path) -> bool:
    if not path.is_relative_to(obj) or path == obj:
        return False
    name = path.relative_to(obj).as_posix()
    if permission.pattern != ALL and not _simple_glob(name, permission.pattern):
        return False
    return not any(_simple_glob(name, excepted) for excepted in permission.except_)


def _simple_glob(name: str, pattern: str) -> bool:
    """A glob whose only wildcard is `*`; a name with a `/` never matches."""
    if "/" in name:
        return False
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, name, re.DOTALL) is not None


def _ids(permission: Permission, where: str, problems: list[str]) -> tuple[int, int]:
    uid = gid = -1
    if permission.owner is not None:
        try:
            uid = pwd.getpwnam(permission.owner).pw_uid
        except KeyError:
            problems.append(f"{where}: owner {permission.owner!r} is not a user on this host")
    if permission.group is not None:
        try:
            gid = grp.getgrnam(permission.group).gr_gid
        except KeyError:
            problems.append(f"{where}: group {permission.group!r} is not a group on this host")
    return uid, gid


def _check_acls(permission: Permission, where: str, problems: list[str]) -> None:
    for entry in permission.acls:
        if _ACL_ENTRY.fullmatch(entry) is None:
            problems.append(f"{where}: acls entry {entry!r} is not [d:]u|g|m|o:[name]:perms")
    if permission.acls and shutil.which("setfacl") is None:
        problems.append(f"{where}: acls need setfacl on this host (Debian/Ubuntu: apt-get install acl)")


def apply_permissions(targets: Sequence[PermissionTarget]) -> list[Path]:
    """Apply each target's owner, group, mode and ACLs; return the paths changed. InstallError on the first failure."""
    for target in targets:
        try:
            _apply(target)
        except OSError as exc:
            raise InstallError(
                f"could not apply the permissions of {target.permission.object} to {target.path}: {exc.strerror}"
            ) from None
    return [target.path for target in targets]


def _apply(target: PermissionTarget) -> None:
    path, permission = target.path, target.permission
    if target.uid != -1 or target.gid != -1:
        os.chown(path, target.uid, target.gid, follow_symlinks=False)
    if path.is_symlink():
        return
    if permission.mode is not None:
        path.chmod(permission.mode)
    if permission.acls:
        _set_acls(path, permission.acls)


def _set_acls(path: Path, acls: Sequence[str]) -> None:
    """Replace the path's ACLs with `acls`, completed from its mode where setfacl needs an entry."""
    access = [e for e in acls if not e.startswith(("d:", "default:"))]
    default = [e.split(":", 1)[1] for e in acls if e.startswith(("d:", "default:"))]
    if default and not path.is_dir():
        raise InstallError(f"default acls entries apply to directories only, and {path} is a file")
    mode = path.stat().st_mode
    entries = _completed(access, mode)
    if default:
        entries += [f"d:{entry}" for entry in _completed(default, mode)]
    result = subprocess.run(
        ["setfacl", "--set", ",".join(entries), str(path)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise InstallError(f"setfacl could not set the acls of {path}: {result.stderr.strip()}")


def _completed(entries: list[str], mode: int) -> list[str]:
    """ACL entries with the owner, group and other entries taken from `mode` when missing, and a mask when needed."""
    tags = {_tag(e): e for e in entries if not e.split(":")[1]}
    named = [e for e in entries if e.split(":")[1]]
    completed = list(entries)
    for tag, shift in (("u", 6), ("g", 3), ("o", 0)):
        if tag not in tags:
            completed.append(f"{tag}::{_perms(mode >> shift)}")
    if named and "m" not in tags:
        completed.append(f"m::{_perms(mode >> 3)}")
    return completed


def _tag(entry: str) -> str:
    return entry.split(":", 1)[0][0]


def _perms(bits: int) -> str:
    return "".join(letter if bits & flag else "-" for letter, flag in (("r", 4), ("w", 2), ("x", 1)))
