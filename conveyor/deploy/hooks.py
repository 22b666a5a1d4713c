"""Running one lifecycle event's hook scripts on a host, as the CodeDeploy agent runs them (§2.2 of the AWS semantics).

Contract of `run_lifecycle_event`:

* The scripts run one after the other, in the order the appspec lists them, and the event stops at the first that
  does not succeed. Each may run for its own `timeout`; all of the event's scripts together for at most
  `EVENT_TIME_LIMIT` (3600 s): a script gets what is left of that when it is less than its own timeout.
* A script's `location` is relative to the revision's root (a leading `/` too, as for the CodeDeploy agent); one
  that climbs out of the revision, or reaches outside it through a symbolic link, is refused as missing.
* A script without an execute bit is made executable first, as the CodeDeploy agent does; only when that fails is
  the result ScriptNotExecutable. A script with no `#!` line runs with /bin/sh, as a shell would run it.
* The working directory is the revision's root (the agent's own directory is not the scripts' business), and the
  environment is fresh: LIFECYCLE_EVENT, DEPLOYMENT_ID, APPLICATION_NAME, DEPLOYMENT_GROUP_NAME,
  DEPLOYMENT_GROUP_ID, BUNDLE_BUCKET, BUNDLE_KEY, BUNDLE_ETAG and BUNDLE_VERSION for an S3 revision (the last only
  for a versioned object), BUNDLE_COMMIT for a GitHub one, and PATH, HOME, USER, LOGNAME and LANG. Nothing of
  the agent's own environment reaches a script.
* `runas` runs the script as that user (with setpriv, the user's groups and home), which needs an agent running as
  root. An agent that does not, or a user the host does not have, fails the script with ScriptFailed and the
  reason, without running it: running it as the agent's own user instead would hand it other rights than the
  appspec asks for. A `runas` naming the agent's own user needs no root.
* Every line a script writes goes to `log` as `[stdout]…` or `[stderr]…`, after a line naming the event and one
  naming each script; the last 4 KB of those lines are the result's log tail (CodeDeploy's `diagnostics.logTail`).
* Results: Succeeded, ScriptMissing, ScriptNotExecutable, ScriptTimedOut (the script's process group killed),
  ScriptFailed (a non-zero exit status, given in `exit_code`). The script's own failure is the result, never an
  exception.
"""

from __future__ import annotations

import errno
import os
import pwd
import signal
import stat
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path, PurePosixPath

from conveyor.build.users import RunAs, RunAsError, resolve_user, user_prefix
from conveyor.deploy.script_process import KILL_GRACE_SECONDS, start_script_process, wait_for_script

DEFAULT_SCRIPT_TIMEOUT = 3600.0
EVENT_TIME_LIMIT = 3600.0
LOG_TAIL_BYTES = 4096
HOOK_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

LogSink = Callable[[str], None]


class ScriptResult(str, Enum):
    SUCCEEDED = "Succeeded"
    SCRIPT_MISSING = "ScriptMissing"
    SCRIPT_NOT_EXECUTABLE = "ScriptNotExecutable"
    SCRIPT_TIMED_OUT = "ScriptTimedOut"
    SCRIPT_FAILED = "ScriptFailed"

    @property
    def error_code(self) -> str:
        """The value of CodeDeploy's `diagnostics.errorCode` (LifecycleErrorCode) for this result."""
        return "Success" if self is ScriptResult.SUCCEEDED else self.value


@dataclass(frozen=True)
class HookScript:
    """One entry of an appspec's hook: a script of the revision, its timeout in seconds, and whom it runs as."""

    location: str
    timeout: float = DEFAULT_SCRIPT_TIMEOUT
    runas: str | None = None

    def __post_init__(self) -> None:
        if not self.location.strip("/"):
            raise ValueError("a hook script needs a location")
        if not self.timeout > 0:
            raise ValueError(f"the timeout of {self.location} must be more than 0 seconds (got {self.timeout})")


@dataclass(frozen=True)
class S3Bundle:
    bucket: str
    key: str
    etag: str | None = None
    version: str | None = None  # only for an object of a versioned bucket


@dataclass(frozen=True)
class DeploymentIdentity:
    """What hook scripts are told about the deployment they run in."""

    deployment_id: str
    application_name: str
    deployment_group_name: str
    deployment_group_id: str
    s3_bundle: S3Bundle | None = None
    commit_id: str | None = None  # a GitHub revision's commit


@dataclass(frozen=True)
class EventResult:
    """How one lifecycle event's scripts went on one host."""

    lifecycle_event: str
    result: ScriptResult
    message: str
    log_tail: str
    started_at: datetime
    ended_at: datetime
    script_name: str = ""  # the script that did not succeed
    exit_code: int | None = None  # ScriptFailed's exit status

    @property
    def succeeded(self) -> bool:
        return self.result is ScriptResult.SUCCEEDED

    @property
    def status(self) -> str:
        """The lifecycle event's status (LifecycleEventStatus)."""
        return "Succeeded" if self.succeeded else "Failed"

    def diagnostics(self) -> dict[str, str]:
        """CodeDeploy's `diagnostics` of the event."""
        return {
            "errorCode": self.result.error_code,
            "scriptName": self.script_name,
            "message": self.message,
            "logTail": self.log_tail,
        }


@dataclass
class _ScriptOutcome:
    result: ScriptResult
    message: str = ""
    exit_code: int | None = None


@dataclass
class _EventLog:
    """The event's lines: each to the caller's sink, the last LOG_TAIL_BYTES kept for the diagnostics."""

    sink: LogSink
    lines: deque[bytes] = field(default_factory=deque)
    size: int = 0

    def line(self, text: str) -> None:
        self.sink(text)
        encoded = (text + "\n").encode("utf-8", errors="replace")
        self.lines.append(encoded)
        self.size += len(encoded)
        while self.size - len(self.lines[0]) >= LOG_TAIL_BYTES:
            self.size -= len(self.lines.popleft())

    def tail(self) -> str:
        return b"".join(self.lines)[-LOG_TAIL_BYTES:].decode("utf-8", errors="ignore")


def run_lifecycle_event(
    lifecycle_event: str,
    scripts: Sequence[HookScript],
    revision_root: Path,
    identity: DeploymentIdentity,
    log: LogSink,
    *,
    time_limit: float = EVENT_TIME_LIMIT,
    kill_grace: float = KILL_GRACE_SECONDS,
) -> EventResult:
    """Run an event's scripts from the revision at `revision_root`; see the module's contract."""
    started_at = datetime.now(UTC)
    event_log = _EventLog(log)
    if scripts:
        event_log.line(f"Lifecycle event {lifecycle_event}")
    deadline = time.monotonic() + time_limit
    for script in scripts:
        event_log.line(f"Script {script.location}")
        remaining = deadline - time.monotonic()
        outcome = _run_script(lifecycle_event, script, revision_root, identity, event_log, remaining, kill_grace)
        if outcome.result is not ScriptResult.SUCCEEDED:
            if outcome.result is ScriptResult.SCRIPT_TIMED_OUT and remaining < script.timeout:
                outcome.message += f" (what was left of the event's {time_limit:g} s for all its scripts)"
            event_log.line(outcome.message)
            return EventResult(
                lifecycle_event,
                outcome.result,
                outcome.message,
                event_log.tail(),
                started_at,
                datetime.now(UTC),
                script.location,
                outcome.exit_code,
            )
    return EventResult(
        lifecycle_event, ScriptResult.SUCCEEDED, "Succeeded", event_log.tail(), started_at, datetime.now(UTC)
    )


def _run_script(
    lifecycle_event: str,
    script: HookScript,
    revision_root: Path,
    identity: DeploymentIdentity,
    event_log: _EventLog,
    remaining: float,
    kill_grace: float,
) -> _ScriptOutcome:
    path = script_path(revision_root, script.location)
    if path is None:
        return _ScriptOutcome(ScriptResult.SCRIPT_MISSING, f"script {script.location} does not exist in the revision")
    problem = _make_executable(path, script.location, event_log)
    if problem is not None:
        return _ScriptOutcome(ScriptResult.SCRIPT_NOT_EXECUTABLE, problem)
    try:
        user = resolve_user(script.runas) if script.runas else None
        prefix = user_prefix(user)
    except RunAsError as exc:
        return _ScriptOutcome(ScriptResult.SCRIPT_FAILED, f"script {script.location} was not run: {exc.message}")
    if remaining <= 0:
        return _ScriptOutcome(ScriptResult.SCRIPT_TIMED_OUT, f"script {script.location} was not started in time")
    env = hook_environment(lifecycle_event, identity, user)
    return _execute(script, path, prefix, revision_root, env, event_log, remaining, kill_grace)


def _execute(
    script: HookScript,
    path: Path,
    prefix: list[str],
    cwd: Path,
    env: dict[str, str],
    event_log: _EventLog,
    remaining: float,
    kill_grace: float,
) -> _ScriptOutcome:
    try:
        process = start_script_process([*prefix, str(path)], cwd, env)
    except OSError as exc:
        if exc.errno != errno.ENOEXEC:
            return _ScriptOutcome(
                ScriptResult.SCRIPT_NOT_EXECUTABLE, f"script {script.location} could not be executed: {exc.strerror}"
            )
        process = start_script_process([*prefix, "/bin/sh", str(path)], cwd, env)  # no `#!` line: what a shell would do
    timeout = min(script.timeout, remaining)
    outcome = wait_for_script(
        process, timeout, lambda stream, text: event_log.line(f"[{stream}]{text}"), kill_grace=kill_grace
    )
    who = f" run as user {script.runas}" if script.runas else ""
    if outcome.timed_out:
        return _ScriptOutcome(
            ScriptResult.SCRIPT_TIMED_OUT,
            f"script {script.location}{who} did not finish within {timeout:g} s; its process group was killed",
        )
    code = outcome.exit_code or 0
    if code < 0:  # ended by a signal it did not get from us: reported as a shell reports it
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        return _ScriptOutcome(
            ScriptResult.SCRIPT_FAILED, f"script {script.location}{who} was killed by signal {name}", 128 - code
        )
    if code != 0:
        return _ScriptOutcome(
            ScriptResult.SCRIPT_FAILED, f"script {script.location}{who} failed with exit status {code}", code
        )
    return _ScriptOutcome(ScriptResult.SUCCEEDED)


def script_path(revision_root: Path, location: str) -> Path | None:
    """The script's path in the revision, or None when it is not there or leads outside the revision."""
    relative = PurePosixPath(location.lstrip("/"))
    if ".." in relative.parts:
        return None
    path = revision_root.joinpath(*relative.parts)
    resolved = path.resolve()
    if not resolved.is_relative_to(revision_root.resolve()) or not resolved.is_file():
        return None
    return path


def _make_executable(path: Path, location: str, event_log: _EventLog) -> str | None:
    """Give the script execute bits where it has read bits, when it has none; the reason when that fails."""
    mode = path.stat().st_mode
    if mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
        return None
    event_log.line(f"Script {location} is not executable; making it executable")
    try:
        path.chmod(stat.S_IMODE(mode) | ((mode & 0o444) >> 2) | stat.S_IXUSR)
    except OSError as exc:
        return f"script {location} is not executable and could not be made executable: {exc.strerror}"
    return None


def hook_environment(lifecycle_event: str, identity: DeploymentIdentity, user: RunAs | None) -> dict[str, str]:
    """The whole environment of a hook script run as `user` (None: the agent's own user)."""
    if user is None:
        entry = pwd.getpwuid(os.geteuid())
        name, home = entry.pw_name, entry.pw_dir
    else:
        name, home = user.name, user.home
    env = {
        "PATH": HOOK_PATH,
        "HOME": home,
        "USER": name,
        "LOGNAME": name,
        "LANG": "C.UTF-8",
        "LIFECYCLE_EVENT": lifecycle_event,
        "DEPLOYMENT_ID": identity.deployment_id,
        "APPLICATION_NAME": identity.application_name,
        "DEPLOYMENT_GROUP_NAME": identity.deployment_group_name,
        "DEPLOYMENT_GROUP_ID": identity.deployment_group_id,
    }
    bundle = identity.s3_bundle
    if bundle is not None:
        env |= {"BUNDLE_BUCKET": bundle.bucket, "BUNDLE_KEY": bundle.key}
        if bundle.etag:
            env["BUNDLE_ETAG"] = bundle.etag
        if bundle.version:
            env["BUNDLE_VERSION"] = bundle.version
    if identity.commit_id:
        env["BUNDLE_COMMIT"] = identity.commit_id
    return env
