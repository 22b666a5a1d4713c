"""Builds in the bubblewrap sandbox, with real bwrap and bash: what the build may touch, what outlives it, network."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.blobs import LocalBlobStore
from conveyor.build.cache_store import CacheStore
from tests.unit.test_build_runner import phase, run_build, spec

PROBE_NAME = "conveyor-sandbox-probe"


def processes_named(marker: str) -> list[int]:
    """Host pids whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command_line = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in command_line:
            found.append(int(entry.name))
    return found


def wait_until_gone(marker: str, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_named(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def detached_daemon(*, clear_environment: bool = False) -> tuple[str, str]:
    """A unique name, and a command starting a `setsid` daemon under it (with no environment, if asked)."""
    marker = f"{PROBE_NAME}-{uuid.uuid4().hex}"
    env = "env -i " if clear_environment else ""
    return marker, f"setsid {env}bash -c 'exec -a {marker} sleep 300' </dev/null >/dev/null 2>&1 &"


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on loopback that accepts connections."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def test_the_host_is_read_only_and_the_workspace_writable(tmp_path: Path) -> None:
    escaped = Path("/var/tmp") / f"escaped-{uuid.uuid4().hex}.txt"  # a host directory the sandbox sees (not under /tmp)
    private = Path("/tmp") / f"private-{uuid.uuid4().hex}"  # the sandbox's /tmp is its own
    try:
        build = run_build(
            tmp_path,
            {
                "buildspec.yml": spec(
                    phase(
                        "build",
                        "echo built > app.txt",
                        'echo note > "$HOME/note" && cat "$HOME/note"',
                        f'echo scratch > "$TMPDIR/scratch" && echo private > {private} && cat {private}',
                        f"test ! -e {tmp_path}/blobs && echo host-tmp-hidden",
                        f"echo escaped > {escaped}",
                    )
                )
            },
            sandbox="bwrap",
        )
        assert not escaped.exists()
    finally:
        escaped.unlink(missing_ok=True)

    assert build.result.status.value == "FAILED"
    assert "Sandbox: bubblewrap, network on" in build.log
    assert {"note", "host-tmp-hidden"} <= set(build.output)
    assert f"{escaped}: Read-only file system" in build.log
    assert (build.workspace / "home" / "note").read_text() == "note\n"
    assert (build.workspace / "src" / "app.txt").read_text() == "built\n"
    assert (build.workspace / "tmp" / "scratch").read_text() == "scratch\n"
    assert "private" in build.output
    assert not private.exists()


def test_a_green_sandboxed_build_stores_its_artifact(tmp_path: Path) -> None:
    build = run_build(
        tmp_path,
        {
            "buildspec.yml": spec(phase("build", "mkdir -p out && echo built > out/app.txt", "touch /tmp/private"))
            + "artifacts:\n  files:\n    - 'out/**/*'\n"
        },
        sandbox="bwrap",
    )

    assert build.result.status.value == "SUCCEEDED", build.log
    assert build.artifact_names() == ["out/app.txt"]


def test_no_process_of_a_sandboxed_build_outlives_it_not_even_a_daemon(tmp_path: Path) -> None:
    marker, daemon = detached_daemon()
    build = run_build(
        tmp_path,
        {"buildspec.yml": spec(phase("build", daemon, "sleep 0.2", f"pgrep -f {marker} >/dev/null && echo running"))},
        sandbox="bwrap",
    )

    assert build.result.status.value == "SUCCEEDED", build.log
    assert "running" in build.output
    assert wait_until_gone(marker) == []


def test_a_sandboxed_build_that_times_out_leaves_nothing_running(tmp_path: Path) -> None:
    marker, daemon = detached_daemon()
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", daemon, "sleep 30"))}, sandbox="bwrap", timeout=1)

    assert build.result.status.value == "TIMED_OUT"
    assert wait_until_gone(marker) == []


def test_without_the_sandbox_a_detached_daemon_is_found_and_killed_too(tmp_path: Path) -> None:
    """`setsid` leaves the process groups Conveyor kills; the session's variable, inherited, still finds it."""
    marker, daemon = detached_daemon()
    started = time.monotonic()
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", daemon, "sleep 0.2"))})
    try:
        assert build.result.status.value == "SUCCEEDED", build.log
        assert wait_until_gone(marker) == []
        # nothing held the build's output open until the drain gave up (after 5 s: `_DRAIN_SECONDS` of the shell)
        assert time.monotonic() - started < 5
    finally:
        for pid in processes_named(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_daemon_that_clears_its_environment_escapes_without_the_sandbox(tmp_path: Path) -> None:
    """The limit of finding processes by their variable, and why the sandbox exists: `env -i` sheds it."""
    marker, daemon = detached_daemon(clear_environment=True)
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", daemon, "sleep 0.2"))})
    try:
        assert build.result.status.value == "SUCCEEDED", build.log
        assert processes_named(marker) != []
    finally:
        for pid in processes_named(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_sandboxed_daemon_that_clears_its_environment_is_gone_too(tmp_path: Path) -> None:
    marker, daemon = detached_daemon(clear_environment=True)
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", daemon, "sleep 0.2"))}, sandbox="bwrap")

    assert build.result.status.value == "SUCCEEDED", build.log
    assert wait_until_gone(marker) == []


def test_with_the_network_off_not_even_loopback_is_reachable(tmp_path: Path, listener: int) -> None:
    connect = f"exec 3<>/dev/tcp/127.0.0.1/{listener} && echo connected"
    closed = run_build(
        tmp_path / "off", {"buildspec.yml": spec(phase("build", connect))}, sandbox="bwrap", network=False
    )
    opened = run_build(tmp_path / "on", {"buildspec.yml": spec(phase("build", connect))}, sandbox="bwrap", network=True)

    assert closed.result.status.value == "FAILED"
    assert "Sandbox: bubblewrap, network off" in closed.log
    assert "connected" not in closed.output
    assert opened.result.status.value == "SUCCEEDED", opened.log
    assert "connected" in opened.output


def test_a_worker_without_bwrap_faults_the_build_with_a_clear_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "echo never"))}, sandbox="bwrap")

    assert build.result.status.value == "FAULT"
    assert build.recorder.phases == [("PROVISIONING", "FAULT"), ("FINALIZING", "SUCCEEDED")]
    (context,) = build.recorder.contexts_of(build.recorder.ended[0][0])
    assert context["statusCode"] == "SANDBOX_ERROR"
    assert "bwrap is not installed" in context["message"]
    assert "apt-get install bubblewrap" in context["message"]


def test_an_unknown_sandbox_kind_is_named_in_the_fault(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "echo never"))}, sandbox="docker")

    assert build.result.status.value == "FAULT"
    (context,) = build.recorder.contexts_of(build.recorder.ended[0][0])
    assert "unknown build sandbox 'docker'" in context["message"]


def test_a_sandboxed_build_caches_its_home_but_never_host_paths(tmp_path: Path) -> None:
    store = CacheStore(LocalBlobStore(tmp_path / "cache"), "demo", compress=False)
    cache = "cache:\n  paths: ['~/.deps/**/*', '/var/lib/conveyor-never/**/*']\n"
    fill = 'mkdir -p "$HOME/.deps" && echo kept > "$HOME/.deps/lib"'
    first = run_build(
        tmp_path / "one", {"buildspec.yml": spec(phase("build", fill)) + cache}, sandbox="bwrap", cache_store=store
    )
    second = run_build(
        tmp_path / "two",
        {"buildspec.yml": spec(phase("build", 'cat "$HOME/.deps/lib"')) + cache},
        sandbox="bwrap",
        cache_store=store,
    )

    assert first.result.status.value == "SUCCEEDED", first.log
    assert "cache path '/var/lib/conveyor-never/**/*' is outside the sandbox's workspace; not cached" in first.log
    assert second.result.status.value == "SUCCEEDED", second.log
    assert "kept" in second.output
