"""Hook scripts of one lifecycle event with real bash scripts: results, order, timeouts, output, environment, runas."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.deploy.hooks import (
    EVENT_TIME_LIMIT,
    LOG_TAIL_BYTES,
    DeploymentIdentity,
    EventResult,
    HookScript,
    S3Bundle,
    ScriptResult,
    run_lifecycle_event,
)
from tests.unit.test_shell import process_gone, read_pid

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs an agent running as root")
NOBODY = pwd.getpwnam("nobody")
IDENTITY = DeploymentIdentity(
    deployment_id="d-HOOKS0001",
    application_name="shop",
    deployment_group_name="shop-prod",
    deployment_group_id="9f1c2e4a-0b7d-4c55-8a0e-3d6f1e2b7c90",
)


@pytest.fixture
def revision(tmp_path: Path) -> Path:
    root = tmp_path / "deployment-archive"
    (root / "scripts").mkdir(parents=True)
    return root


@pytest.fixture
def open_revision() -> Iterator[Path]:
    """A revision other users may reach (pytest's own temporary directories are closed to them)."""
    base = Path(tempfile.mkdtemp(prefix="conveyor-hooks-", dir="/var/tmp"))
    base.chmod(0o755)
    root = base / "deployment-archive"
    (root / "scripts").mkdir(parents=True)
    root.chmod(0o777)
    yield root
    shutil.rmtree(base, ignore_errors=True)


def script(root: Path, name: str, body: str, mode: int = 0o755, shebang: str = "#!/bin/bash\n") -> str:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(shebang + textwrap.dedent(body))
    path.chmod(mode)
    return name


def run(
    root: Path, *scripts: HookScript, event: str = "AfterInstall", identity: DeploymentIdentity = IDENTITY, **kw: float
) -> tuple[EventResult, list[str]]:
    lines: list[str] = []
    result = run_lifecycle_event(event, list(scripts), root, identity, lines.append, **kw)
    return result, lines


def test_scripts_run_in_order_and_their_output_goes_to_the_log_line_by_line(revision: Path) -> None:
    first = script(revision, "scripts/first.sh", "echo one\necho two >&2\n")
    second = script(revision, "scripts/second.sh", "printf 'three\\nno newline at the end'\n")

    result, lines = run(revision, HookScript(first), HookScript(second))

    assert result.result is ScriptResult.SUCCEEDED
    assert result.status == "Succeeded"
    assert lines == [
        "Lifecycle event AfterInstall",
        "Script scripts/first.sh",
        "[stdout]one",
        "[stderr]two",
        "Script scripts/second.sh",
        "[stdout]three",
        "[stdout]no newline at the end",
    ]
    assert result.diagnostics() == {
        "errorCode": "Success",
        "scriptName": "",
        "message": "Succeeded",
        "logTail": "\n".join(lines) + "\n",
    }
    assert result.started_at <= result.ended_at


def test_an_event_without_scripts_succeeds_and_logs_nothing(revision: Path) -> None:
    result, lines = run(revision, event="ApplicationStop")

    assert result.succeeded
    assert lines == []
    assert result.log_tail == ""


def test_a_failing_script_fails_the_event_with_its_exit_status_and_the_rest_do_not_run(revision: Path) -> None:
    failing = script(revision, "scripts/fail.sh", "echo about to fail\nexit 3\n")
    after = script(revision, "scripts/after.sh", "touch ran-after\n")

    result, lines = run(revision, HookScript(failing), HookScript(after))

    assert result.result is ScriptResult.SCRIPT_FAILED
    assert result.status == "Failed"
    assert result.exit_code == 3
    assert result.script_name == "scripts/fail.sh"
    assert result.message == "script scripts/fail.sh failed with exit status 3"
    assert result.diagnostics()["errorCode"] == "ScriptFailed"
    assert "[stdout]about to fail" in result.log_tail
    assert result.log_tail.endswith(result.message + "\n")
    assert "Script scripts/after.sh" not in lines
    assert not (revision / "ran-after").exists()


def test_a_script_ended_by_a_signal_fails_with_the_status_a_shell_would_give(revision: Path) -> None:
    name = script(revision, "scripts/crash.sh", "kill -KILL $$\n")

    result, _ = run(revision, HookScript(name))

    assert result.result is ScriptResult.SCRIPT_FAILED
    assert result.exit_code == 137
    assert result.message == "script scripts/crash.sh was killed by signal SIGKILL"


def test_a_missing_script_is_script_missing(revision: Path) -> None:
    after = script(revision, "scripts/after.sh", "touch ran-after\n")

    result, _ = run(revision, HookScript("scripts/nowhere.sh"), HookScript(after))

    assert result.result is ScriptResult.SCRIPT_MISSING
    assert result.script_name == "scripts/nowhere.sh"
    assert result.message == "script scripts/nowhere.sh does not exist in the revision"
    assert not (revision / "ran-after").exists()


def test_a_location_is_relative_to_the_revision_even_with_a_leading_slash(revision: Path) -> None:
    name = script(revision, "scripts/hello.sh", "echo hello\n")

    result, lines = run(revision, HookScript("/" + name))

    assert result.succeeded
    assert "[stdout]hello" in lines


def test_a_location_leading_outside_the_revision_is_refused_as_missing(revision: Path) -> None:
    outside = revision.parent / "outside.sh"
    outside.write_text('#!/bin/bash\ntouch "$(dirname "$0")/escaped"\n')
    outside.chmod(0o755)
    (revision / "scripts" / "link.sh").symlink_to(outside)

    climbing, _ = run(revision, HookScript("../outside.sh"))
    linked, _ = run(revision, HookScript("scripts/link.sh"))

    assert climbing.result is ScriptResult.SCRIPT_MISSING
    assert linked.result is ScriptResult.SCRIPT_MISSING
    assert not (revision.parent / "escaped").exists()


def test_a_script_without_an_execute_bit_is_made_executable_and_run(revision: Path) -> None:
    name = script(revision, "scripts/plain.sh", "echo ran anyway\n", mode=0o644)

    result, lines = run(revision, HookScript(name))

    assert result.succeeded, result.message
    assert "Script scripts/plain.sh is not executable; making it executable" in lines
    assert "[stdout]ran anyway" in lines
    assert (revision / name).stat().st_mode & 0o777 == 0o755


def test_a_script_that_cannot_be_made_executable_is_script_not_executable(revision: Path) -> None:
    name = script(revision, "scripts/locked.sh", "echo never\n", mode=0o644)
    path = revision / name
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False).returncode != 0:
        pytest.skip("this file system cannot make a file immutable (chattr +i)")
    try:
        result, lines = run(revision, HookScript(name))
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)

    assert result.result is ScriptResult.SCRIPT_NOT_EXECUTABLE
    assert result.message == (
        "script scripts/locked.sh is not executable and could not be made executable: Operation not permitted"
    )
    assert "[stdout]never" not in lines


def test_a_script_without_a_shebang_runs_with_sh(revision: Path) -> None:
    name = script(revision, "scripts/bare.sh", 'echo "bare $0"\n', shebang="")

    result, lines = run(revision, HookScript(name))

    assert result.succeeded, result.message
    assert f"[stdout]bare {revision / name}" in lines


def test_a_hanging_script_is_killed_with_its_children_at_its_timeout(revision: Path) -> None:
    name = script(revision, "scripts/hang.sh", "sleep 300 &\necho $! > sleeper.pid\necho $$ > script.pid\nsleep 300\n")

    began = time.monotonic()
    result, _ = run(revision, HookScript(name, timeout=1), kill_grace=2)
    took = time.monotonic() - began

    assert result.result is ScriptResult.SCRIPT_TIMED_OUT
    assert result.message == "script scripts/hang.sh did not finish within 1 s; its process group was killed"
    assert result.exit_code is None
    assert 1 <= took < 10
    assert process_gone(read_pid(revision / "script.pid"))
    assert process_gone(read_pid(revision / "sleeper.pid"))


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace(revision: Path) -> None:
    name = script(revision, "scripts/stubborn.sh", "trap '' TERM\necho $$ > script.pid\nwhile :; do sleep 0.1; done\n")

    result, _ = run(revision, HookScript(name, timeout=1), kill_grace=0.5)

    assert result.result is ScriptResult.SCRIPT_TIMED_OUT
    assert process_gone(read_pid(revision / "script.pid"))


def test_a_background_process_holding_the_output_open_holds_the_script_until_its_timeout(revision: Path) -> None:
    name = script(revision, "scripts/daemon.sh", "sleep 300 &\necho $! > daemon.pid\nexit 0\n")

    result, _ = run(revision, HookScript(name, timeout=1), kill_grace=1)

    assert result.result is ScriptResult.SCRIPT_TIMED_OUT
    assert process_gone(read_pid(revision / "daemon.pid"))


def test_a_background_process_with_its_output_redirected_outlives_a_script_that_succeeds(revision: Path) -> None:
    name = script(revision, "scripts/start.sh", "sleep 300 >/dev/null 2>&1 &\necho $! > service.pid\n")

    result, _ = run(revision, HookScript(name, timeout=10))
    service = read_pid(revision / "service.pid")
    try:
        assert result.succeeded, result.message
        assert not process_gone(service, wait=0)
    finally:
        os.kill(service, 9)


def test_all_scripts_of_an_event_share_the_event_time_limit(revision: Path) -> None:
    first = script(revision, "scripts/first.sh", "sleep 1\n")
    second = script(revision, "scripts/second.sh", "sleep 300\n")

    result, _ = run(revision, HookScript(first, timeout=10), HookScript(second, timeout=10), time_limit=1.6)

    assert EVENT_TIME_LIMIT == 3600
    assert result.result is ScriptResult.SCRIPT_TIMED_OUT
    assert result.script_name == "scripts/second.sh"
    assert "(what was left of the event's 1.6 s for all its scripts)" in result.message


def test_the_log_tail_keeps_the_last_4_kb_of_the_output(revision: Path) -> None:
    name = script(revision, "scripts/chatty.sh", 'for i in $(seq 1 2000); do echo "line $i"; done\nexit 1\n')

    result, lines = run(revision, HookScript(name))

    assert len([line for line in lines if line.startswith("[stdout]line ")]) == 2000
    tail = result.diagnostics()["logTail"]
    assert LOG_TAIL_BYTES == 4096
    assert 4000 < len(tail.encode()) <= 4096
    assert "[stdout]line 2000\n" in tail
    assert "[stdout]line 1\n" not in tail
    assert tail.endswith("script scripts/chatty.sh failed with exit status 1\n")


def test_scripts_get_a_fresh_environment_and_the_revision_as_working_directory(
    revision: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_SECRET_SETTING", "must-not-leak")
    name = script(revision, "scripts/env.sh", "env -0 > env.out\npwd > pwd.out\n")
    identity = DeploymentIdentity(
        **{**IDENTITY.__dict__, "s3_bundle": S3Bundle("artifacts", "shop/rev-7.zip", '"0a1b2c"', "v3")}
    )

    result, _ = run(revision, HookScript(name), event="ApplicationStart", identity=identity)

    assert result.succeeded, result.message
    env = dict(item.split("=", 1) for item in (revision / "env.out").read_text().split("\0") if item)
    me = pwd.getpwuid(os.geteuid())
    assert {k: v for k, v in env.items() if k not in ("PWD", "SHLVL", "_", "OLDPWD")} == {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": me.pw_dir,
        "USER": me.pw_name,
        "LOGNAME": me.pw_name,
        "LANG": "C.UTF-8",
        "LIFECYCLE_EVENT": "ApplicationStart",
        "DEPLOYMENT_ID": "d-HOOKS0001",
        "APPLICATION_NAME": "shop",
        "DEPLOYMENT_GROUP_NAME": "shop-prod",
        "DEPLOYMENT_GROUP_ID": "9f1c2e4a-0b7d-4c55-8a0e-3d6f1e2b7c90",
        "BUNDLE_BUCKET": "artifacts",
        "BUNDLE_KEY": "shop/rev-7.zip",
        "BUNDLE_ETAG": '"0a1b2c"',
        "BUNDLE_VERSION": "v3",
    }
    assert "AGENT_SECRET_SETTING" not in env
    assert (revision / "pwd.out").read_text().strip() == str(revision)


def test_bundle_version_is_only_set_for_a_versioned_object_and_commit_for_a_github_revision(revision: Path) -> None:
    name = script(revision, "scripts/env.sh", 'echo "${BUNDLE_VERSION-unset} ${BUNDLE_COMMIT-unset}"\n')
    unversioned = DeploymentIdentity(**{**IDENTITY.__dict__, "s3_bundle": S3Bundle("artifacts", "k.zip", "e")})
    github = DeploymentIdentity(**{**IDENTITY.__dict__, "commit_id": "3f2a9c1"})

    _, from_s3 = run(revision, HookScript(name), identity=unversioned)
    _, from_github = run(revision, HookScript(name), identity=github)

    assert "[stdout]unset unset" in from_s3
    assert "[stdout]unset 3f2a9c1" in from_github


def test_a_hook_script_entry_needs_a_location_and_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="needs a location"):
        HookScript("/")
    with pytest.raises(ValueError, match=r"the timeout of scripts/x.sh must be more than 0 seconds \(got 0\)"):
        HookScript("scripts/x.sh", timeout=0)


@needs_root
def test_runas_runs_the_script_as_that_user_with_its_home(open_revision: Path) -> None:
    name = script(open_revision, "scripts/who.sh", 'echo "$(id -un) $HOME $USER"\ntouch made-by-hook\n')

    result, lines = run(open_revision, HookScript(name, runas="nobody"))

    assert result.succeeded, result.message
    assert f"[stdout]nobody {NOBODY.pw_dir} nobody" in lines
    assert (open_revision / "made-by-hook").stat().st_uid == NOBODY.pw_uid


@needs_root
def test_a_failure_under_runas_names_the_user(open_revision: Path) -> None:
    name = script(open_revision, "scripts/fail.sh", "exit 4\n")

    result, _ = run(open_revision, HookScript(name, runas="nobody"))

    assert result.result is ScriptResult.SCRIPT_FAILED
    assert result.message == "script scripts/fail.sh run as user nobody failed with exit status 4"


def test_runas_a_user_the_host_does_not_have_fails_without_running(revision: Path) -> None:
    name = script(revision, "scripts/who.sh", "touch ran\n")

    result, _ = run(revision, HookScript(name, runas="no-such-user"))

    assert result.result is ScriptResult.SCRIPT_FAILED
    assert result.exit_code is None
    assert result.message == (
        "script scripts/who.sh was not run: run-as user 'no-such-user' does not exist on this worker"
    )
    assert not (revision / "ran").exists()


AS_NOBODY = """
import json, os, sys
from pathlib import Path
from conveyor.deploy.hooks import HookScript, run_lifecycle_event
from tests.integration.test_deploy_hooks import IDENTITY

root = Path(sys.argv[1])
os.setgroups([])
os.setresgid(65534, 65534, 65534)
os.setresuid(65534, 65534, 65534)  # every id: bash would take back a real id of root
results = [
    run_lifecycle_event("ValidateService", [HookScript("scripts/who.sh", runas=user)], root, IDENTITY, print)
    for user in ("daemon", "nobody")
]
sys.stdout.write(json.dumps([[r.result.value, r.message] for r in results]) + "\\n")
"""


@needs_root
def test_an_agent_that_is_not_root_refuses_runas_another_user_and_runs_runas_itself(open_revision: Path) -> None:
    script(open_revision, "scripts/who.sh", 'echo "as $(id -un)" >> who.out\n', mode=0o755)
    agent = subprocess.run(
        [sys.executable, "-c", AS_NOBODY, str(open_revision)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    (daemon, refused), (nobody, message) = json.loads(agent.stdout.splitlines()[-1])
    assert (daemon, nobody) == ("ScriptFailed", "Succeeded"), message
    assert refused == (
        "script scripts/who.sh was not run: "
        "run-as 'daemon' needs a worker running as root (this worker runs as 'nobody')"
    )
    assert (open_revision / "who.out").read_text() == "as nobody\n"
