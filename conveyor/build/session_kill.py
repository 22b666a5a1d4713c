"""Killing every process of a build's shell session: its process groups, and the processes that left them.

A build's commands may start daemons that leave the shell's process group (`setsid`, double forks). Each process of
a session inherits a variable naming the session (`SESSION_VARIABLE`), so those are found by reading the
environment of every process in /proc. Nothing of a build may outlive it.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence

SESSION_VARIABLE = "CONVEYOR_BUILD_SESSION"  # every process of a session inherits it: how escaped ones are found


def kill_session(groups: Sequence[int], session_id: str) -> None:
    """Kill the session's process groups, then its processes found outside them."""
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    if groups:
        _kill_escaped(set(groups), session_id)


def _kill_escaped(killed: set[int], session_id: str) -> None:
    """Kill the session's processes that left its process groups (a `setsid` daemon), found by their variable.

    Processes still in the session's groups were just sent SIGKILL and are left to die: one that has not yet
    would otherwise be found, killed again and cost another look through every process.
    """
    needle = f"{SESSION_VARIABLE}={session_id}".encode()
    for _ in range(3):  # one that forked while it was being found is found the next time round
        found = [pid for pid in _process_ids() if _group_of(pid) not in killed and _environment_holds(pid, needle)]
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not found:
            return


def _process_ids() -> list[int]:
    try:
        return [int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:  # no /proc (not Linux): process groups are all there is
        return []


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:  # gone
        return None


def _environment_holds(pid: int, entry: bytes) -> bool:
    """Whether the process's environment has `entry` (`NAME=value`) as one of its variables."""
    try:
        fd = os.open(f"/proc/{pid}/environ", os.O_RDONLY)  # plain descriptors: one of these per process
    except OSError:  # gone, or not ours to read
        return False
    try:
        chunks = [b"\0"]
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:  # gone while being read
        return False
    finally:
        os.close(fd)
    chunks.append(b"\0")
    return b"\0" + entry + b"\0" in b"".join(chunks)
