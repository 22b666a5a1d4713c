"""The Procfile's web server: each worker listens on its own socket, and a second server on a taken port refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conveyor.devstack import read_procfile
from tests.e2e.conftest import ROOT, RunningStack


@pytest.fixture
def extra_environment() -> dict[str, str]:
    return {"WEB_CONCURRENCY": "2"}


def listening_sockets(port: int) -> int:
    """How many sockets listen on 127.0.0.1:`port` (state 0A in /proc/net/tcp)."""
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1] == wanted and line.split()[3] == "0A")


def test_each_web_worker_listens_on_a_socket_of_its_own(conveyor_stack: RunningStack) -> None:
    port = int(conveyor_stack.url.rsplit(":", 1)[1])

    assert listening_sockets(port) == 2  # one per worker: the kernel spreads connections across them
    assert conveyor_stack.api("GET", "/pipelines").status_code == 200


def test_a_second_web_server_on_the_same_port_refuses_to_start(conveyor_stack: RunningStack, tmp_path: Path) -> None:
    port = int(conveyor_stack.url.rsplit(":", 1)[1])
    web = next(entry.command for entry in read_procfile(ROOT / "Procfile") if entry.name == "web")
    env = {**conveyor_stack.stack.env, "CONVEYOR_DATA_DIR": str(tmp_path / "second")}

    second = subprocess.run(
        ["/bin/sh", "-c", web], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}: another server is listening there" in second.stderr
    assert listening_sockets(port) == 2  # the running server is untouched
    assert conveyor_stack.api("GET", "/pipelines").status_code == 200
