"""Running one build in a workspace: source download, buildspec phases in one shell, artifact upload.

The runner knows nothing of SQL or queues: it reports each phase to a `PhaseRecorder` and returns a
`BuildResult`. The phase order and the build status come from the pure build engine.

Failures are told apart as the API tells them: the user's command failing or the buildspec being invalid makes the
build FAILED; Conveyor being unable to run it (the shell, the blob store, an unreadable artifact) makes it FAULT.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conveyor.archives import ArchiveError, extract_zip
from conveyor.blobs import BlobStore
from conveyor.build import engine, runtimes
from conveyor.build.cache import BuildCache
from conveyor.build.cache_store import CacheStore
from conveyor.build.git_lending import lend
from conveyor.build.log import BuildLog
from conveyor.build.outputs import BuildOutputs, OutputError
from conveyor.build.request import BuildRequest, BuildResult, InputArtifact, PhaseRecorder, load_buildspec
from conveyor.build.sandbox import sandbox_command
from conveyor.build.secrets import Masker, SecretError, SecretSource, resolve
from conveyor.build.shell import CommandTimeout, ShellError, ShellSession
from conveyor.build.spec import BuildSpec, PhaseSpec
from conveyor.build.status import BUILDSPEC_PHASES, BuildStatus, PhaseType
from conveyor.build.users import RunAs, RunAsError, RunAsPlan, hand_over, user_prefix
from conveyor.errors import ConfigurationError, SpecError

PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME")
__all__ = ["BuildRequest", "BuildResult", "BuildRunner", "InputArtifact", "PhaseRecorder"]


@dataclass
class _PhaseOutcome:
    status: BuildStatus
    contexts: list[dict[str, str]] = field(default_factory=list)
    on_failure: str | None = None


class BuildRunner:
    def __init__(
        self,
        request: BuildRequest,
        blobs: BlobStore,
        recorder: PhaseRecorder,
        log: BuildLog,
        clock: Callable[[], float] = time.monotonic,
        secrets: SecretSource | None = None,
        cache_store: CacheStore | None = None,
    ) -> None:
        self.request = request
        self.cache_store = cache_store
        self._cache: BuildCache | None = None
        self._failing = False
        self.secrets = secrets
        self._secret_values: dict[str, str] = {}
        self._attempt_output: collections.deque[str] = collections.deque(maxlen=256)
        self.masker = Masker()
        log.mask = self.masker
        self.blobs = blobs
        self.recorder = recorder
        self.log = log
        self.clock = clock
        self.deadline = clock() + request.timeout_seconds
        in_place = request.local_source is not None and request.in_place
        self.source_dir = request.local_source if in_place and request.local_source else request.workspace / "src"
        self.spec: BuildSpec | None = None
        self.shell: ShellSession | None = None
        self.result = BuildResult(BuildStatus.SUCCEEDED)
        self._stopped = threading.Event()
        self._timed_out = False
        self._wrapper: list[str] = []  # the sandbox's command prefix, if any
        self._users = RunAsPlan()

    def stop(self) -> None:
        """Stop the build from another thread: the running command is killed, FINALIZING still runs."""
        self._stopped.set()
        if self.shell is not None:
            self.shell.kill()

    def run(self) -> BuildResult:
        statuses: list[BuildStatus] = []
        phase = PhaseType.PROVISIONING
        while phase is not PhaseType.COMPLETED:
            self.recorder.phase_started(phase)
            self.log.container(f"Entering phase {phase.value}")
            outcome = self._run_phase(phase)
            statuses.append(outcome.status)
            self.log.container(f"Phase complete: {phase.value} State: {outcome.status.value}")
            for context in outcome.contexts:
                self.log.container(f"Phase context status code: {context['statusCode']} Message: {context['message']}")
            self.recorder.phase_ended(phase, outcome.status, outcome.contexts)
            if outcome.status is not BuildStatus.SUCCEEDED:
                self._mark_failing()
            phase = engine.next_phase(phase, outcome.status, outcome.on_failure)
        self.result.status = engine.build_status(statuses)
        return self.result

    def _run_phase(self, phase: PhaseType) -> _PhaseOutcome:
        if self._stopped.is_set() and phase is not PhaseType.FINALIZING:
            return _PhaseOutcome(BuildStatus.STOPPED, [_context("BUILD_STOPPED", "the build was stopped")])
        try:
            return self._phase_body(phase)
        except CommandTimeout:
            self._timed_out = True
            minutes = self.request.timeout_seconds / 60
            return _PhaseOutcome(
                BuildStatus.TIMED_OUT, [_context("BUILD_TIMED_OUT", f"Build has timed out. {minutes:g} mins")]
            )
        except ShellError as exc:
            if self._stopped.is_set():
                return _PhaseOutcome(BuildStatus.STOPPED, [_context("BUILD_STOPPED", "the build was stopped")])
            return _PhaseOutcome(BuildStatus.FAULT, [_context("SHELL_ERROR", str(exc))])

    def _phase_body(self, phase: PhaseType) -> _PhaseOutcome:
        if phase is PhaseType.PROVISIONING:
            return self._provision()
        if phase is PhaseType.DOWNLOAD_SOURCE:
            return self._download_source()
        if phase is PhaseType.UPLOAD_ARTIFACTS:
            return self._upload_artifacts()
        if phase is PhaseType.FINALIZING:
            return self._finalize()
        name = next(key for key, value in BUILDSPEC_PHASES.items() if value is phase)
        spec_phase = self.spec.phase(name) if self.spec else None
        if spec_phase is None:
            return _PhaseOutcome(BuildStatus.SUCCEEDED)
        return self._run_commands(spec_phase)

    # -- phases ---------------------------------------------------------------------------------------------------

    def _provision(self) -> _PhaseOutcome:
        (self.request.workspace / "tmp").mkdir(parents=True, exist_ok=True)
        self.source_dir.mkdir(parents=True, exist_ok=True)
        writable = [self.request.workspace] + ([self.source_dir] if self.request.in_place else [])
        try:
            self._wrapper = sandbox_command(self.request.sandbox, writable, network=self.request.network)
        except ConfigurationError as exc:
            return _PhaseOutcome(BuildStatus.FAULT, [_context("SANDBOX_ERROR", exc.message)])
        if self._wrapper:
            (self.request.workspace / "home").mkdir(exist_ok=True)
            self.log.container(f"Sandbox: bubblewrap, network {'on' if self.request.network else 'off'}")
        return _PhaseOutcome(BuildStatus.SUCCEEDED)

    def _download_source(self) -> _PhaseOutcome:
        try:
            if self.request.local_source is not None and not self.request.in_place:
                shutil.copytree(self.request.local_source, self.source_dir, symlinks=True, dirs_exist_ok=True)
            for index, artifact in enumerate(self.request.inputs):
                target = self.source_dir if index == 0 else self.request.workspace / f"src_{artifact.name}"
                target.mkdir(parents=True, exist_ok=True)
                with self.blobs.reading(artifact.key, self.request.workspace / "tmp") as archive:
                    extract_zip(archive, target, name=f"input-{index}.zip")
        except (FileNotFoundError, ArchiveError, OSError) as exc:
            return _PhaseOutcome(BuildStatus.FAULT, [_context("CLIENT_ERROR", f"could not download the source: {exc}")])
        try:
            self.spec = load_buildspec(self.request, self.source_dir)
        except SpecError as exc:
            return _PhaseOutcome(BuildStatus.FAILED, [_context("YAML_FILE_ERROR", str(exc))])
        except FileNotFoundError as exc:
            return _PhaseOutcome(BuildStatus.FAILED, [_context("YAML_FILE_ERROR", str(exc))])
        for key in self.spec.not_yet_run:
            self.log.container(f"Warning: '{key}' is not carried out by Conveyor yet; ignoring it")
        if self.spec.secrets or self.request.secret_references:
            failure = self._resolve_secrets(self.spec)
            if failure is not None:
                return failure
        try:
            self._users = RunAsPlan.check(self.spec, self.request.workspace)
        except RunAsError as exc:
            return _PhaseOutcome(BuildStatus.FAILED, [_context("CLIENT_ERROR", exc.message)])
        self._start_shell(self.spec)
        self._restore_cache(self.spec)
        if self._users.build is not None and not self._users.build.is_current:
            try:
                self._hand_over(self._users.build)
            except RunAsError as exc:
                return _PhaseOutcome(BuildStatus.FAILED, [_context("CLIENT_ERROR", exc.message)])
        return _PhaseOutcome(BuildStatus.SUCCEEDED)

    def _hand_over(self, user: RunAs) -> None:
        self.log.container(f"Running as user {user.name}")
        hand_over(self.request.workspace, user)
        if not self.source_dir.is_relative_to(self.request.workspace):
            self.log.container("Warning: a source built in place is not handed over to the run-as user")

    def _restore_cache(self, spec: BuildSpec) -> None:
        if spec.cache is None:
            return
        if self.cache_store is None:
            self.log.container("This build has no cache (NO_CACHE); the buildspec's cache section is not used")
            return
        assert self.shell is not None
        home = Path(self.shell.env.get("HOME") or self.request.workspace / "home")
        scratch = self.request.workspace / "tmp"
        self._cache = BuildCache(
            spec.cache,
            self.cache_store,
            self.source_dir,
            home,
            scratch,
            self.log,
            self._evaluate,
            host_paths=not self._wrapper,
        )
        self._cache.restore()

    def _resolve_secrets(self, spec: BuildSpec) -> _PhaseOutcome | None:
        if self.secrets is None:
            return _PhaseOutcome(BuildStatus.FAULT, [_context("SECRETS_ERROR", "this runner has no secret source")])
        try:
            self._secret_values = resolve(spec.secrets + self.request.secret_references, self.secrets)
        except SecretError as exc:
            return _PhaseOutcome(BuildStatus.FAILED, [_context("SECRETS_ERROR", exc.message)])
        for value in self._secret_values.values():
            self.masker.add(value)
        return None

    def _start_shell(self, spec: BuildSpec) -> None:
        environment = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
        environment.update(TMPDIR=str(self.request.workspace / "tmp"), CODEBUILD_SRC_DIR=str(self.source_dir))
        for artifact in self.request.inputs[1:]:
            environment[f"CODEBUILD_SRC_DIR_{artifact.name}"] = str(self.request.workspace / f"src_{artifact.name}")
        environment.update(spec.variables)
        environment.update(self._secret_values)
        environment.update(self.request.environment)
        environment["CODEBUILD_BUILD_SUCCEEDING"] = "1"
        if spec.git_credential_helper:
            request = self.request
            environment.update(lend(request.git_credentials, request.git_credentials_withheld, self.log, self.masker))
        if self._users.build is not None and not self._users.build.is_current:
            user = self._users.build
            environment.update(USER=user.name, LOGNAME=user.name, HOME=user.home)
        if self._wrapper:  # the host's home is read-only in the sandbox
            environment["HOME"] = str(self.request.workspace / "home")
        self.shell = ShellSession(
            self.source_dir,
            environment,
            self.request.workspace / "tmp",
            self._output,
            posix=spec.shell in ("sh", "/bin/sh"),
            fresh_shell_per_command=not spec.one_shell,
            wrapper=self._wrapper + user_prefix(self._users.build),
        )
        self.shell.start()

    def _switch_user(self, user: RunAs | None) -> None:
        """Run the next commands as `user` (a phase's run-as, or the build's again after it)."""
        assert self.shell is not None
        if user == self._users.current:
            return
        self.shell.switch(self._wrapper + user_prefix(user))
        self._users.current = user
        if user is not None and not user.is_current:  # back to the worker's user (root) needs nothing handed over
            self._hand_over(user)

    def _select_runtimes(self, phase: PhaseSpec) -> None:
        """Put the runtimes `install.runtime-versions` asks for first on PATH (see conveyor.build.runtimes)."""
        assert self.shell is not None
        chosen = runtimes.select(
            phase.runtime_versions, self.shell.env, self.request.runtimes_dir, self.shell.env.get("PATH", "")
        )
        for selection in chosen:
            self.log.container(selection.describe())
        first = runtimes.path_entries(chosen, self.request.workspace / "runtimes" / "bin")
        if first:
            value = ":".join(dict.fromkeys(first))
            self.shell.env["PATH"] = f"{value}:{self.shell.env.get('PATH', '')}"
            self.shell.run(f'export PATH={shlex.quote(value)}:"$PATH"', timeout=max(1.0, self.deadline - self.clock()))

    def _run_commands(self, phase: PhaseSpec) -> _PhaseOutcome:
        """The phase's commands then its `finally`; with `on-failure: RETRY…`, again while the policy allows.

        Decided where AWS is silent: a failing `finally` command ends the `finally` block, as a failing command
        ends `commands`; a RETRY regular expression is searched in the failure's message and in what the failed
        attempt printed; the retried phase keeps one record, with the last attempt's context.
        """
        policy, retried = phase.retry, 0
        try:
            self._switch_user(self._users.for_phase(phase.name))
        except RunAsError as exc:
            return _PhaseOutcome(BuildStatus.FAILED, [_context("CLIENT_ERROR", exc.message)], phase.on_failure)
        if phase.runtime_versions:
            self._select_runtimes(phase)
        while True:
            self._attempt_output.clear()
            contexts = self._run_list(list(phase.commands)) + self._run_list(list(phase.finally_commands))
            if not contexts:
                return _PhaseOutcome(BuildStatus.SUCCEEDED, [], phase.on_failure)
            failure = contexts[0]["message"] + "\n" + "".join(self._attempt_output)
            if policy is None or retried >= policy.retries or not policy.matches(failure):
                return _PhaseOutcome(BuildStatus.FAILED, contexts[:1], phase.on_failure)
            retried += 1
            self.log.container(f"Phase {phase.name} failed; retrying it ({retried} of {policy.retries})")

    def _output(self, data: bytes) -> None:
        self._attempt_output.append(data[-4096:].decode("utf-8", errors="replace"))
        self.log.output(data)

    def _run_list(self, commands: list[str]) -> list[dict[str, str]]:
        """Run commands until one fails (one batch to the shell); the failure's context, if any."""
        assert self.shell is not None
        if not commands:
            return []
        if self._stopped.is_set():
            raise ShellError("stopped")
        results = self.shell.run_batch(
            commands,
            timeout=max(0.0, self.deadline - self.clock()),
            on_start=lambda index: self.log.container(f"Running command {commands[index]}"),
            meanwhile=self.recorder.checkpoint,  # the phase is on record as its first command runs
        )
        if self._stopped.is_set():
            raise ShellError("stopped")
        failed = [r for r in results if r.exit_status != 0]
        if not failed:
            return []
        command, code = commands[failed[0].index], failed[0].exit_status
        self.log.container(f"Command did not exit successfully {command} exit status {code}")
        return [
            _context("COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {code}")
        ]

    def _mark_failing(self) -> None:
        self._failing = True
        if self.shell is not None and not self._stopped.is_set():
            self.shell.env["CODEBUILD_BUILD_SUCCEEDING"] = "0"  # for shells started later: 0.1 starts one per command
            with contextlib.suppress(ShellError):
                self.shell.run("export CODEBUILD_BUILD_SUCCEEDING=0", timeout=max(1.0, self.deadline - self.clock()))

    def _capture_exported_variables(self) -> None:
        project_secrets = {reference.variable for reference in self.request.secret_references}
        names = tuple(n for n in (self.spec.exported_variables if self.spec else ()) if n not in project_secrets)
        for name in sorted(set(self.spec.exported_variables if self.spec else ()) & project_secrets):
            self.log.container(f"Warning: {name} is a secret of the project and is not exported")
        if not names or self.shell is None:
            return
        target = self.request.workspace / "tmp" / f"exported-{uuid.uuid4().hex}"
        values = " ".join(f'"${{{name}-}}"' for name in names)
        self.shell.run(f"printf '%s\\0' {values} > '{target}'", timeout=max(1.0, self.deadline - self.clock()))
        if target.exists():
            parts = target.read_bytes().split(b"\0")
            self.result.exported_variables = {n: v.decode(errors="replace") for n, v in zip(names, parts, strict=False)}
            target.unlink()

    def _upload_artifacts(self) -> _PhaseOutcome:
        """Test and coverage reports (they never fail the build), then the primary and secondary artifacts."""
        outputs = BuildOutputs(self.request, self.source_dir, self.blobs, self.log, self._evaluate)
        if self.spec is not None and self.spec.reports:
            self.result.reports = [outputs.read_report(section) for section in self.spec.reports]
        if self.spec is not None and self.spec.artifacts is not None:
            try:
                self.result.artifact = outputs.store_artifacts(self.spec.artifacts)
            except OutputError as exc:
                return _PhaseOutcome(exc.status, [_context(exc.code, exc.message)])
        if self._cache is not None and not self._failing:  # a failed build's cache may be half-made
            self._cache.save()
        return _PhaseOutcome(BuildStatus.SUCCEEDED)

    def _evaluate(self, text: str) -> str | None:
        """`text` as the build's shell expands it (`myapp-$(date +%F)`), or None when there is no shell."""
        if self.shell is None or self._stopped.is_set():
            return None
        target = self.request.workspace / "tmp" / f"expanded-{uuid.uuid4().hex}"
        code = self.shell.run(
            f"__cv_text={shlex.quote(text)}; eval \"printf '%s' \\\"$__cv_text\\\"\" > '{target}'",
            timeout=max(1.0, self.deadline - self.clock()),
        )
        return target.read_text(errors="replace") if code == 0 and target.exists() else None

    def _finalize(self) -> _PhaseOutcome:
        if self.shell is not None:
            if not self._stopped.is_set() and not self._timed_out:  # a killed shell left no state to read back
                self._capture_exported_variables()
            self.shell.close()
        return _PhaseOutcome(BuildStatus.SUCCEEDED)


def _context(code: str, message: str) -> dict[str, str]:
    return {"statusCode": code, "message": message}
