"""Optional isolation of a build with bubblewrap: the host read-only, the workspace writable, a private /tmp and
/proc, the build's processes in a PID namespace of their own (so none outlives the build, daemons included), and
the network shared or not.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from conveyor.errors import ConfigurationError

SANDBOXES = ("none", "bwrap")


def sandbox_command(kind: str, writable: list[Path], *, network: bool) -> list[str]:
    """The command prefix that runs a build's shell in the sandbox (`[]` for none); a clear error if unavailable."""
    if kind == "none":
        return []
    if kind != "bwrap":
        raise ConfigurationError(f"unknown build sandbox {kind!r}: use one of {', '.join(SANDBOXES)}")
    binary = shutil.which("bwrap")
    if binary is None:
        raise ConfigurationError(
            "builds are to run in a bubblewrap sandbox, but bwrap is not installed on this worker "
            "(Debian/Ubuntu: apt-get install bubblewrap)"
        )
    command = [
        binary,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",  # noqa: S108 -- a fresh, private /tmp inside the sandbox, not a path on the host
        "--unshare-pid",
        "--die-with-parent",
    ]
    if not network:
        command.append("--unshare-net")
    _check_works(tuple(command))
    for path in writable:
        command += ["--bind", str(path), str(path)]
    return command


@cache
def _check_works(command: tuple[str, ...]) -> None:
    """Run `true` in the sandbox once per worker, so a host that cannot create namespaces gets a clear error."""
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"the bubblewrap sandbox does not start on this worker: {exc}") from None
    if probe.returncode != 0:
        reason = probe.stderr.strip() or f"exit status {probe.returncode}"
        raise ConfigurationError(
            f"the bubblewrap sandbox does not start on this worker ({reason}); "
            "it needs unprivileged user namespaces or root"
        )
