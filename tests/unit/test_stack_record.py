"""`conveyor down` stops the process groups `up` recorded, and nothing that merely has the same id now."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from conveyor.cli import main
from conveyor.stack_record import read_record, started_at, stop_groups, write_record


@pytest.fixture
def groups() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes in sessions of their own, as `up` starts them; whatever a test leaves running is killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _start(groups: list[subprocess.Popen[bytes]], command: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(["/bin/sh", "-c", command], start_new_session=True)
    groups.append(process)
    return process


def _alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def test_recorded_groups_are_found_and_stopped(tmp_path: Path, groups: list[subprocess.Popen[bytes]]) -> None:
    web, worker = _start(groups, "exec sleep 60"), _start(groups, "exec sleep 60")
    record = tmp_path / "stack.json"
    write_record(record, {"web": web.pid, "worker": worker.pid})

    running = read_record(record)
    assert [(g.name, g.group, g.started) for g in running] == [
        ("web", web.pid, started_at(web.pid)),
        ("worker", worker.pid, started_at(worker.pid)),
    ]

    stop_groups(running, timeout=5)
    assert web.wait(5) == -signal.SIGTERM
    assert worker.wait(5) == -signal.SIGTERM
    assert read_record(record) == []


def test_an_id_now_used_by_another_process_is_not_ours(tmp_path: Path, groups: list[subprocess.Popen[bytes]]) -> None:
    other = _start(groups, "exec sleep 60")
    record = tmp_path / "stack.json"
    write_record(record, {"web": other.pid})
    written = json.loads(record.read_text())
    written["groups"]["web"]["started"] = str(int(written["groups"]["web"]["started"]) - 100)  # an earlier process
    record.write_text(json.dumps(written))

    assert read_record(record) == []
    assert other.poll() is None


def test_a_record_from_an_earlier_boot_names_nothing(tmp_path: Path, groups: list[subprocess.Popen[bytes]]) -> None:
    other = _start(groups, "exec sleep 60")
    record = tmp_path / "stack.json"
    write_record(record, {"web": other.pid})
    written = json.loads(record.read_text())
    written["boot"] = "an-earlier-boot"
    record.write_text(json.dumps(written))

    assert read_record(record) == []


def test_a_group_whose_leader_exited_is_still_stopped(tmp_path: Path, groups: list[subprocess.Popen[bytes]]) -> None:
    leader = _start(groups, "sleep 60 & echo started")
    record = tmp_path / "stack.json"
    write_record(record, {"worker": leader.pid})
    leader.wait(5)

    [running] = read_record(record)  # the sleep it left behind runs on in its group
    assert running.group == leader.pid
    stop_groups([running], timeout=5)
    deadline = time.monotonic() + 5
    while _alive(leader.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(leader.pid)


def test_the_first_format_is_still_read(tmp_path: Path, groups: list[subprocess.Popen[bytes]]) -> None:
    web = _start(groups, "exec sleep 60")
    record = tmp_path / "stack.json"
    record.write_text(json.dumps({"web": web.pid, "gone": 2**22 + 7}))

    assert [(g.name, g.group) for g in read_record(record)] == [("web", web.pid)]


def test_down_leaves_a_reused_id_alone_and_removes_the_stale_record(
    tmp_path: Path, groups: list[subprocess.Popen[bytes]]
) -> None:
    other = _start(groups, "exec sleep 60")
    record = tmp_path / "stack.json"
    record.write_text(json.dumps({"boot": "an-earlier-boot", "groups": {"web": {"group": other.pid, "started": "1"}}}))
    env = {"CONVEYOR_DATA_DIR": str(tmp_path)}

    result = CliRunner().invoke(main, ["down"], env=env)

    assert result.exit_code == 0, result.output
    assert result.output == f"nothing was running any more: removed {record}\n"
    assert not record.exists()
    assert other.poll() is None
    again = CliRunner().invoke(main, ["down"], env=env)
    assert again.exit_code == 0
    assert again.output == f"nothing to stop: no `conveyor up --detach` runs from {tmp_path}\n"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"], ids=["not-json", "not-a-record"])
def test_an_unreadable_record_is_an_error_saying_what_to_do(tmp_path: Path, text: str) -> None:
    record = tmp_path / "stack.json"
    record.write_text(text)

    result = CliRunner().invoke(main, ["down"], env={"CONVEYOR_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 1
    assert result.output.startswith(f"error: cannot read {record}")
    assert result.output.endswith("): remove it if no `conveyor up` runs from here\n")
