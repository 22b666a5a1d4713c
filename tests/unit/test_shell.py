"""ShellSession with real bash: one shell per build, state kept across exits, output in order, timeouts that kill."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.build.shell import CommandTimeout, ShellSession
from conveyor.build.shell_script import WAKE_FD


class Output:
    """Collects the chunks a session hands to `on_output`."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self.chunks).decode()


@pytest.fixture
def output() -> Output:
    return Output()


@pytest.fixture
def open_session(tmp_path: Path, output: Output) -> Iterator[Any]:
    sessions: list[ShellSession] = []

    def open_(**options: Any) -> ShellSession:
        work = tmp_path / "src"
        work.mkdir(exist_ok=True)
        state = tmp_path / "state"
        state.mkdir(exist_ok=True)
        env = {"PATH": os.environ["PATH"], "GREETING": "hello"}
        session = ShellSession(work, env, state, output, **options)
        session.start()
        sessions.append(session)
        return session

    yield open_
    for session in sessions:
        session.close()


@pytest.fixture
def shell(open_session: Any) -> ShellSession:
    return open_session()


def process_gone(pid: int, wait: float = 5.0) -> bool:
    """Whether `pid` has ended (a zombie counts: nothing may reap it here), waiting a little for SIGKILL to land."""
    deadline = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def test_the_given_environment_is_what_commands_see(shell: ShellSession, output: Output) -> None:
    assert shell.run('echo "$GREETING"') == 0

    assert output.text == "hello\n"


def test_variables_exports_and_cd_persist_between_commands(shell: ShellSession, output: Output) -> None:
    shell.run("PLAIN=1")
    shell.run("export SHARED=2")
    shell.run("mkdir -p deep/er && cd deep/er")

    assert shell.run("echo \"$PLAIN $(bash -c 'echo $SHARED') ${PWD##*/}\"") == 0
    assert output.text == "1 2 er\n"


def test_exit_returns_its_status_and_later_commands_keep_the_shell_state(
    shell: ShellSession, output: Output, tmp_path: Path
) -> None:
    shell.run('PLAIN=kept; export SHARED=child-sees-it; greet() { echo "hi $1"; }; mkdir -p sub && cd sub')

    assert shell.run("exit 7") == 7
    assert shell.run('echo "$PLAIN"; bash -c \'echo "$SHARED"\'; greet there; pwd') == 0
    assert output.text.splitlines() == ["kept", "child-sees-it", "hi there", str(tmp_path / "src" / "sub")]


def test_state_set_in_the_exiting_command_itself_survives(shell: ShellSession, output: Output) -> None:
    assert shell.run("IMAGE_URI=repo/app:1; exit 3") == 3

    shell.run('echo "$IMAGE_URI"')

    assert output.text == "repo/app:1\n"


def test_set_e_ends_the_command_at_the_failure_and_state_survives(shell: ShellSession, output: Output) -> None:
    shell.run("BEFORE=yes")

    assert shell.run("set -e; AFTER=set; false; echo never") == 1
    assert shell.run('echo "$BEFORE $AFTER"') == 0
    assert output.text == "yes set\n"


def test_commands_read_stdin_from_dev_null(shell: ShellSession, output: Output) -> None:
    assert shell.run("cat; echo cat-done", timeout=5) == 0
    assert shell.run("read -r line", timeout=5) == 1  # end of input at once
    assert shell.run("echo still-in-step") == 0

    assert output.text == "cat-done\nstill-in-step\n"


def test_a_multi_line_command_runs_every_line(shell: ShellSession, output: Output) -> None:
    command = "for n in 1 2; do\n  echo line $n\ndone\nif [ -d . ]; then\n  echo dir\nfi\n"

    assert shell.run(command) == 0
    assert output.text == "line 1\nline 2\ndir\n"


def test_a_multi_line_command_reports_the_status_of_its_last_line(shell: ShellSession) -> None:
    assert shell.run("false\ntrue") == 0
    assert shell.run("true\n(exit 4)") == 4


def test_output_arrives_in_order_with_stderr_before_run_returns(shell: ShellSession, output: Output) -> None:
    assert shell.run("for n in $(seq 1 300); do echo out $n; echo err $n >&2; done") == 0

    expected = [f"{kind} {n}" for n in range(1, 301) for kind in ("out", "err")]
    assert output.text.splitlines() == expected


def test_large_output_is_delivered_whole_before_run_returns(shell: ShellSession, output: Output) -> None:
    shell.run("head -c 300000 /dev/zero | tr '\\0' x")  # one 300 kB line without a newline
    assert output.text == "x" * 300_000

    shell.run("seq 1 50000")
    assert output.text == "x" * 300_000 + "".join(f"{n}\n" for n in range(1, 50001))


def test_output_without_a_trailing_newline_is_delivered(shell: ShellSession, output: Output) -> None:
    shell.run("printf abc")
    assert output.text == "abc"

    shell.run("printf 'def\\n\\n'")
    assert output.text == "abcdef\n\n"


def test_a_command_over_its_timeout_raises_and_is_killed(shell: ShellSession, tmp_path: Path) -> None:
    pid_file = tmp_path / "src" / "cmd.pid"

    with pytest.raises(CommandTimeout, match=r"did not finish within 0\.5 s"):
        shell.run(f"sh -c 'echo $$ > {pid_file}; exec sleep 30'", timeout=0.5)

    assert process_gone(read_pid(pid_file))


def test_the_session_runs_commands_again_after_a_timeout(shell: ShellSession, output: Output) -> None:
    shell.run("SAVED=before; exit 0")
    with pytest.raises(CommandTimeout):
        shell.run("sleep 30", timeout=0.5)

    assert shell.run('echo "$SAVED"') == 0
    assert output.text == "before\n"


def test_close_kills_background_jobs(shell: ShellSession, tmp_path: Path) -> None:
    shell.run("sleep 30 & echo $! > bg.pid")
    pid = read_pid(tmp_path / "src" / "bg.pid")
    assert not process_gone(pid, wait=0)

    shell.close()

    assert process_gone(pid)


def test_close_kills_background_jobs_of_a_shell_that_has_exited(shell: ShellSession, tmp_path: Path) -> None:
    shell.run("sleep 30 & echo $! > bg.pid")
    assert shell.run("exit 3") == 3

    shell.close()

    assert process_gone(read_pid(tmp_path / "src" / "bg.pid"))


def test_a_shell_killed_by_a_signal_reports_128_plus_the_signal(shell: ShellSession, output: Output) -> None:
    assert shell.run("kill -KILL $$") == 137
    assert shell.run("echo alive") == 0
    assert output.text == "alive\n"


def test_set_x_traces_commands_without_disturbing_exit_statuses(shell: ShellSession, output: Output) -> None:
    assert shell.run("set -x") == 0
    assert shell.run("echo traced") == 0
    assert shell.run("(exit 4)") == 4
    assert shell.run("true") == 0
    assert shell.run("exit 5") == 5
    assert shell.run("false") == 1

    assert "traced\n" in output.text
    assert "__cv_" not in output.text  # the session's own bookkeeping is not traced


def test_set_x_within_a_batch_traces_only_the_commands_and_carries_to_the_next_batch(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, chunks.append) as shell:
        first = shell.run_batch(["set -x", "echo one", "(exit 4)", "echo never"])
        second = shell.run_batch(["echo two", "set +x", "echo three"])
        third = shell.run_batch(["echo four"])
    text = b"".join(chunks).decode()

    assert [(r.index, r.exit_status) for r in first] == [(0, 0), (1, 0), (2, 4)]
    assert [(r.index, r.exit_status) for r in second] == [(0, 0), (1, 0), (2, 0)]
    assert [(r.index, r.exit_status) for r in third] == [(0, 0)]
    traced = [line for line in text.splitlines() if line.startswith("+")]
    assert any("echo one" in line for line in traced)
    assert any("echo two" in line for line in traced)
    assert not any("three" in line or "four" in line for line in traced)  # `set +x` held into the next batch
    assert "never" not in text
    for bookkeeping in ("__cv_", "printf", "case"):  # the session's own lines are not traced
        assert bookkeeping not in text


def test_set_e_inside_a_command_of_a_batch_stops_that_command_and_the_batch(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, chunks.append) as shell:
        results = shell.run_batch(["X=kept", "set -e\nfalse\necho after", "echo never"])
        again = shell.run_batch(['echo "$X"'])

    assert [(r.index, r.exit_status) for r in results] == [(0, 0), (1, 1)]
    assert [(r.index, r.exit_status) for r in again] == [(0, 0)]
    assert b"".join(chunks).decode() == "kept\n"


def test_fresh_shell_per_command_forgets_variables_and_directory(open_session: Any, output: Output) -> None:
    shell = open_session(fresh_shell_per_command=True)

    shell.run("export KEPT=no; LOCAL=no; mkdir -p sub && cd sub")
    shell.run('echo "${KEPT-unset} ${LOCAL-unset} ${PWD##*/}"')

    assert output.text == "unset unset src\n"


def test_fresh_shell_per_command_still_reports_exit_statuses(open_session: Any, output: Output) -> None:
    shell = open_session(fresh_shell_per_command=True)

    assert shell.run("exit 6") == 6
    assert shell.run('echo "$GREETING"') == 0
    assert output.text == "hello\n"


def test_posix_mode_runs_commands_and_keeps_state(open_session: Any, output: Output) -> None:
    shell = open_session(posix=True)

    shell.run("VALUE=kept; cd /")
    assert shell.run("exit 2") == 2
    shell.run('case ":$SHELLOPTS:" in *:posix:*) echo "posix $VALUE $PWD" ;; esac')

    assert output.text == "posix kept /\n"


def test_a_top_level_return_ends_its_command_with_that_status_and_later_commands_still_run(tmp_path: Path) -> None:
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, lambda _: None) as shell:
        failed = shell.run_batch(["X=1", "return 4", "echo never"])
        assert [(r.index, r.exit_status) for r in failed] == [(0, 0), (1, 4)]
        passed = shell.run_batch(["return 0", "test $X = 1"])
        assert [(r.index, r.exit_status) for r in passed] == [(0, 0), (1, 0)]


def test_a_batch_stops_at_its_first_failure_and_reports_each_start_in_order(tmp_path: Path) -> None:
    events: list[str] = []
    output = lambda chunk: events.append(chunk.decode().strip())  # noqa: E731
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, output) as shell:
        results = shell.run_batch(["echo a", "printf b", "false", "echo c"], on_start=lambda i: events.append(f"#{i}"))
    assert [(r.index, r.exit_status) for r in results] == [(0, 0), (1, 0), (2, 1)]
    assert [e for e in events if e] == ["#0", "a", "#1", "b", "#2"]


def test_a_long_batch_of_quick_commands_reports_each_start_in_order_with_its_output(tmp_path: Path) -> None:
    events: list[str] = []
    output = lambda chunk: events.extend(line for line in chunk.decode().splitlines() if line)  # noqa: E731
    commands = [f"echo {n}" if n % 2 else f"N={n}" for n in range(200)]
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, output) as shell:
        results = shell.run_batch(commands, on_start=lambda i: events.append(f"#{i}"))

    assert [(r.index, r.exit_status) for r in results] == [(n, 0) for n in range(200)]
    assert events == [event for n in range(200) for event in ([f"#{n}", str(n)] if n % 2 else [f"#{n}"])]


def test_a_command_closing_the_wake_up_descriptor_changes_nothing_it_can_see(
    shell: ShellSession, output: Output
) -> None:
    results = shell.run_batch([f"exec {WAKE_FD}>&-", "echo after"])

    assert [(r.index, r.exit_status) for r in results] == [(0, 0), (1, 0)]
    assert shell.run("echo again") == 0
    assert shell.run("exit 3") == 3
    assert output.text == "after\nagain\n"


def test_a_session_leaves_no_descriptor_open_however_many_shells_it_started(open_session: Any) -> None:
    before = sorted(os.listdir("/proc/self/fd"))
    shell = open_session()
    for code in (3, 4, 5):
        assert shell.run(f"exit {code}") == code
    fresh = open_session(fresh_shell_per_command=True)
    for _ in range(3):
        assert fresh.run("true") == 0

    shell.close()
    fresh.close()

    assert sorted(os.listdir("/proc/self/fd")) == before


def test_what_runs_meanwhile_runs_while_the_first_command_is_running(tmp_path: Path) -> None:
    go = tmp_path / "go"
    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, lambda _: None) as shell:
        results = shell.run_batch(
            [f"for _ in $(seq 500); do [ -f {go} ] && exit 0; sleep 0.01; done; exit 9", "echo next"],
            meanwhile=go.touch,  # the first command waits for it: it cannot have run before or after
        )
    assert [(r.index, r.exit_status) for r in results] == [(0, 0), (1, 0)]


def test_a_failure_meanwhile_stops_the_batch_and_the_session_runs_again(tmp_path: Path) -> None:
    chunks: list[bytes] = []

    def broken() -> None:
        raise RuntimeError("the records could not be written")

    with ShellSession(tmp_path, {"PATH": "/usr/bin:/bin"}, tmp_path, chunks.append) as shell:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="could not be written"):
            shell.run_batch(["sleep 30", "echo never"], meanwhile=broken)
        assert time.monotonic() - started < 10  # the sleeping command was killed, not waited for
        assert shell.run("echo again") == 0
    assert b"".join(chunks).decode() == "again\n"
