"""What `conveyor up --detach` left running, kept in the data directory (`stack.json`) so that `conveyor down` stops
those processes and nothing else, and a second `up` on the same data directory is refused while they run.

Each process group is recorded with when its leader started (Linux counts it in clock ticks since boot, in
`/proc/<pid>/stat`) and the boot it started in. After a reboot, or once the leader's id has been given to an
unrelated process, the record no longer names a running group of ours and nothing is signalled. A group whose leader
has exited but whose other members still run is still ours: Linux gives no new process an id that a process group
still uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from conveyor.errors import ConfigurationError

_REMEDY = "remove it if no `conveyor up` runs from here"


@dataclass(frozen=True)
class RecordedGroup:
    name: str
    group: int
    started: str | None  # the leader's start time when `up` recorded it; None where the system does not tell


def write_record(path: Path, groups: dict[str, int]) -> None:
    """Record the process groups (name → group id, which is its leader's process id) `up` started."""
    record = {
        "boot": _boot_id(),
        "groups": {name: {"group": group, "started": started_at(group)} for name, group in groups.items()},
    }
    path.write_text(json.dumps(record))


def read_record(path: Path) -> list[RecordedGroup]:
    """The groups a record names that still run, as `up` started them (none after a reboot or for a reused id)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path} ({exc}): {_REMEDY}") from None
    if not isinstance(record, dict):
        raise ConfigurationError(f"cannot read {path} (not a record of `conveyor up`): {_REMEDY}")
    if "groups" not in record:  # the first format: name → group id, with nothing to tell a reused id by
        return [RecordedGroup(name, int(group), None) for name, group in record.items() if _group_alive(int(group))]
    if record.get("boot") != _boot_id():
        return []
    groups = [RecordedGroup(name, int(g["group"]), g.get("started")) for name, g in record["groups"].items()]
    return [group for group in groups if _still_ours(group)]


def stop_groups(groups: list[RecordedGroup], timeout: float = 15.0) -> None:
    """SIGTERM to each group, then SIGKILL to what is left of them after `timeout` seconds."""
    for group in groups:
        _signal_group(group.group, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_group_alive(g.group) for g in groups):
        time.sleep(0.2)
    for group in groups:
        _signal_group(group.group, signal.SIGKILL)


def started_at(pid: int) -> str | None:
    """When a process started (clock ticks after boot); None when no such process runs or there is no `/proc`."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of the line; the name before ")" may hold spaces


def _still_ours(group: RecordedGroup) -> bool:
    leader = started_at(group.group)
    if leader is None:  # the leader exited (or no /proc): what still runs in its group is what it started
        return _group_alive(group.group)
    return group.started is None or leader == group.started


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
