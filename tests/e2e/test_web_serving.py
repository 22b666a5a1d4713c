"""The Procfile's web server: each worker listens on its own socket, a second server on a taken port refuses, and
keep-alive connections end up spread evenly over the workers; a worker freezes what it made while starting out of
garbage collection; a request gunicorn itself cannot read is answered in JSON, as every other error is."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conveyor.devstack import free_port, read_procfile
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


def test_conveyor_up_refuses_a_taken_port_before_starting_anything(
    conveyor_stack: RunningStack, tmp_path: Path
) -> None:
    """Another server answering /healthz on the port must not pass for the one `up` starts."""
    port = conveyor_stack.url.rsplit(":", 1)[1]
    data = tmp_path / "second"

    with _conveyor_up(data, "--port", port) as up:
        assert up.returncode == 1
        assert f"cannot start on 127.0.0.1:{port}: another server is listening there (choose another port" in up.stderr
        assert not data.exists()  # nothing was started, nor its data directory made
    assert conveyor_stack.api("GET", "/pipelines").status_code == 200


def test_conveyor_up_says_why_a_process_exited_during_start_up(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("web: echo starting; echo 'no settings for this: giving up' >&2; exit 3\n")
    data = tmp_path / "third"

    with _conveyor_up(data, "--port", str(free_port()), "--procfile", str(procfile)) as up:
        assert up.returncode == 1
        log = data / "logs" / "web.log"
        said = f"error: web exited during start-up; the end of {log}:\n  starting\n  no settings for this: giving up"
        assert said in up.stderr
        assert not (data / "stack.json").exists()  # what it started (the redis-server) is stopped again


def test_conveyor_up_twice_on_one_data_directory_refuses_the_second(tmp_path: Path) -> None:
    data = tmp_path / "fourth"

    with _conveyor_up(data, "--port", str(free_port())) as first:
        assert first.returncode == 0, first.stderr
        with _conveyor_up(data, "--port", str(free_port()), keep=True) as second:
            assert second.returncode == 1
            said = f"error: Conveyor is already running from {data} (redis, web, worker, scheduler): `conveyor down`"
            assert said in second.stderr
        down = _conveyor(data, "down")
        assert down.stdout == "stopped redis, web, worker, scheduler\n"
        assert not (data / "stack.json").exists()


@contextmanager
def _conveyor_up(data: Path, *args: str, keep: bool = False) -> Iterator[subprocess.CompletedProcess[str]]:
    """`conveyor up --detach` on a data directory of its own and its embedded defaults; whatever it left running
    is stopped afterwards (unless `keep`: what an earlier `up` there started is the caller's to stop)."""
    try:
        yield _conveyor(data, "up", "--detach", *args)
    finally:
        if not keep and (data / "stack.json").exists():
            _conveyor(data, "down")


def _conveyor(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The `conveyor` command on the data directory `data` and its embedded defaults (no other setting of ours)."""
    scripts = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.update(CONVEYOR_DATA_DIR=str(data), PATH=os.pathsep.join([scripts, env.get("PATH", "/usr/bin:/bin")]))
    cli = str(Path(scripts) / "conveyor")
    return subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def pid_server() -> Iterator[tuple[int, int]]:
    """The Procfile's web command serving `tests.support.pid_app` with one worker; yields (arbiter pid, port)."""
    port = free_port()
    web = next(entry.command for entry in read_procfile(ROOT / "Procfile") if entry.name == "web")
    command = web.replace('"handlers.app:create_app()"', "tests.support.pid_app:app")
    env = {
        **os.environ,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "4",
        "PYTHONPATH": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    server = subprocess.Popen(
        ["/bin/sh", "-c", command], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_for(lambda: listening_sockets(port) == 1, "the server to listen")
        yield server.pid, port
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_keep_alive_connections_spread_over_a_worker_added_later(pid_server: tuple[int, int]) -> None:
    """Twenty keep-alive connections all held by the one worker; a second worker starts (SIGTTIN), which the kernel
    would give only new connections. The first worker closes its connections beyond its share as their next
    requests come, the clients reconnect, and the two workers end with ten each, give or take one."""
    arbiter, port = pid_server
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(20)]

    def round_of_requests() -> tuple[list[str], int]:
        served, closed = [], 0
        for connection in connections:
            connection.request("GET", "/")
            response = connection.getresponse()
            served.append(response.read().decode())
            closed += response.getheader("Connection", "").lower() == "close"
        return served, closed

    first, closed = round_of_requests()
    assert len(set(first)) == 1
    assert closed == 0  # one worker: everything is its share
    os.kill(arbiter, signal.SIGTTIN)
    _wait_for(lambda: listening_sockets(port) == 2, "the second worker")

    closed_since = 0
    for _ in range(30):
        served, closed = round_of_requests()
        closed_since += closed
    for connection in connections:
        connection.close()

    spread = Counter(served)
    assert len(spread) == 2, f"one worker still holds every connection: {spread}"
    assert max(spread.values()) <= 11, spread
    assert closed_since >= 9  # at least the first worker's excess was closed, each client reconnecting


def test_a_web_worker_keeps_what_it_made_while_starting_out_of_garbage_collection(
    pid_server: tuple[int, int],
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", pid_server[1], timeout=10)
    connection.request("GET", "/heap")
    frozen, collected = (int(n) for n in connection.getresponse().read().split())
    connection.close()

    # gunicorn, the app and what they import: a full collection now walks only what was made since
    assert frozen > 10_000
    assert frozen > 5 * collected


UNREADABLE = {  # what gunicorn refuses before the app sees it, and how it answers
    "a header name with a space": (
        b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        400,
        "BadRequest",
    ),
    "a garbage request line": (b"NOT A REQUEST LINE\r\n\r\n", 400, "BadRequest"),
    "a header over 8190 bytes": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
        431,
        "RequestHeaderFieldsTooLarge",
    ),
}


def _raw_exchange(port: int, request_bytes: bytes) -> tuple[str, list[str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *headers = head.decode("latin1").split("\r\n")
    return status_line, headers, body


def test_a_request_gunicorn_cannot_read_is_answered_in_json(conveyor_stack: RunningStack) -> None:
    port = int(conveyor_stack.url.rsplit(":", 1)[1])
    for case, (request_bytes, status, error) in UNREADABLE.items():
        status_line, headers, body = _raw_exchange(port, request_bytes)

        assert status_line.startswith(f"HTTP/1.1 {status} "), case
        assert "Content-Type: application/json" in headers, case
        parsed = json.loads(body)
        assert parsed["error"] == error, case
        assert parsed["message"], case
