"""Buildspec files (versions 0.1 and 0.2): parse and validate completely before anything runs.

Accepted as CodeBuild accepts them: CRLF line endings, phases written out of order, a null `commands:`, empty `-`
entries (skipped), numbers where strings are expected. Every problem is reported at once with its path and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.build.batch_spec import BatchSpec, parse_batch
from conveyor.build.spec_outputs import (
    ArtifactsSpec,
    CacheSpec,
    ReportSpec,
    parse_artifacts,
    parse_cache,
    parse_reports,
)
from conveyor.build.status import BUILDSPEC_PHASES
from conveyor.specfile import (
    Document,
    ProblemList,
    load_document,
    mapping_at,
    scalar_text,
    string_list_at,
)
from conveyor.specfile import Path as SpecPath

TOP_KEYS = {
    "version",
    "run-as",
    "env",
    "proxy",
    "batch",
    "phases",
    "reports",
    "artifacts",
    "cache",
    "environment_variables",
}
ENV_KEYS = {"shell", "variables", "parameter-store", "secrets-manager", "exported-variables", "git-credential-helper"}
PHASE_KEYS = {"run-as", "on-failure", "runtime-versions", "commands", "finally"}
SHELLS = {"bash", "/bin/sh", "sh", "/bin/bash"}
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")  # the runner reads exported variables as `${NAME-}`


@dataclass(frozen=True)
class RetryPolicy:
    """`on-failure: RETRY…`: run a failed phase again, up to `retries` more times, when its failure matches."""

    retries: int
    pattern: str | None = None  # a regular expression searched in the failure and the phase's output

    def matches(self, failure_text: str) -> bool:
        return self.pattern is None or re.search(self.pattern, failure_text) is not None


def retry_policy(on_failure: str | None) -> RetryPolicy | None:
    """`RETRY` (3 retries of any failure), `RETRY-<count>`, `RETRY-<regex>` (3 retries), `RETRY-<count>-<regex>`."""
    if on_failure is None or not on_failure.startswith("RETRY"):
        return None
    if on_failure == "RETRY":
        return RetryPolicy(3)
    rest = on_failure.removeprefix("RETRY-")
    count, dash, regex = rest.partition("-")
    if count.isdigit():
        return RetryPolicy(int(count), regex or None if dash else None)
    return RetryPolicy(3, rest)


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str | None = None
    runtime_versions: tuple[tuple[str, str], ...] = ()  # install only: (runtime, version as written)
    run_as: str | None = None  # this phase's commands run as this Linux user

    @property
    def retry(self) -> RetryPolicy | None:
        return retry_policy(self.on_failure)


@dataclass(frozen=True)
class SecretReference:
    """A variable whose value comes from SSM Parameter Store or Secrets Manager, resolved when the build starts."""

    variable: str
    store: str  # "parameter-store" or "secrets-manager"
    name: str  # the parameter name, or the secret's name or ARN
    json_key: str | None = None
    version_stage: str | None = None
    version_id: str | None = None


@dataclass(frozen=True)
class BuildSpec:
    version: str
    shell: str = "bash"
    variables: dict[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    secrets: tuple[SecretReference, ...] = ()
    phases: tuple[PhaseSpec, ...] = ()
    artifacts: ArtifactsSpec | None = None
    reports: tuple[ReportSpec, ...] = ()
    cache: CacheSpec | None = None
    run_as: str | None = None  # every phase's commands run as this Linux user, unless the phase names another
    batch: BatchSpec | None = None  # read when the build is a batch; a batch's own builds do not look at it
    git_credential_helper: bool = False  # env/git-credential-helper: yes — git in the build uses the source's tokens
    not_yet_run: tuple[str, ...] = ()  # keys present whose behaviour Conveyor does not carry out yet

    @property
    def one_shell(self) -> bool:
        """0.2 runs every command in one shell; 0.1 gives each command a fresh one."""
        return self.version != "0.1"

    def phase(self, name: str) -> PhaseSpec | None:
        return next((p for p in self.phases if p.name == name), None)


def parse_buildspec(text: str, source: str = "buildspec.yml") -> BuildSpec:
    """Parse and validate a buildspec, raising SpecError with every problem found."""
    document = load_document(text, source)
    problems = ProblemList(document)
    data = document.data
    if not isinstance(data, dict):
        problems.add((), "a buildspec must be a mapping with at least a 'version' key")
        problems.raise_if_any()
    spec = _parse(document, data, problems)
    problems.raise_if_any()
    return spec


def _parse(document: Document, data: dict[str, Any], problems: ProblemList) -> BuildSpec:
    for key in sorted(set(map(str, data)) - TOP_KEYS):
        problems.add((key,), "unknown key")
    version = _version(data.get("version"), problems)
    env_key = "env" if "env" in data or "environment_variables" not in data else "environment_variables"
    env = mapping_at(data.get(env_key), (env_key,), problems)  # 0.1 names: environment_variables, plaintext
    for key in sorted(set(map(str, env)) - ENV_KEYS - {"plaintext"}):
        problems.add((env_key, key), "unknown key")
    variables = _variables(env.get("variables", env.get("plaintext")), problems)
    shell = str(env.get("shell", "bash"))
    if shell not in SHELLS:
        problems.add(("env", "shell"), f"unsupported shell {shell!r} on Linux (use bash or /bin/sh)")
    exported = _exported_variables(env.get("exported-variables"), problems)
    secrets = _secrets(env, set(variables), problems)
    phases = _phases(data.get("phases"), problems)
    artifacts = parse_artifacts(data.get("artifacts"), problems)
    reports = parse_reports(data.get("reports"), problems)
    cache = parse_cache(data.get("cache"), problems)
    return BuildSpec(
        version=version,
        shell=shell,
        variables=variables,
        exported_variables=tuple(exported),
        secrets=secrets,
        phases=phases,
        artifacts=artifacts,
        reports=reports,
        cache=cache,
        run_as=_user(data.get("run-as"), ("run-as",), problems),
        batch=parse_batch(data.get("batch"), problems),
        git_credential_helper=_yes_or_no(
            env.get("git-credential-helper"), (env_key, "git-credential-helper"), problems
        ),
        not_yet_run=_not_yet_run(data),
    )


def _exported_variables(raw: Any, problems: ProblemList) -> list[str]:
    """`env/exported-variables`: names a later action may read, none of them AWS_…"""
    exported = string_list_at(raw, ("env", "exported-variables"), problems)
    positions = (
        [i for i, item in enumerate(raw) if item is not None and not isinstance(item, dict | list)]
        if isinstance(raw, list)
        else [0]
    )
    for index, name in zip(positions, exported, strict=False):  # paths keep the file's own index
        if not VARIABLE_NAME.match(name):
            problems.add(("env", "exported-variables", index), f"{name!r} is not a valid variable name")
        elif name.startswith("AWS_"):
            problems.add(("env", "exported-variables", index), f"{name}: names starting AWS_ cannot be exported")
    return exported


def _version(value: Any, problems: ProblemList) -> str:
    if value is None:
        problems.add(("version",), "missing required key 'version' (use 0.2)")
        return "0.2"
    text = str(value)
    if text not in {"0.1", "0.2"}:
        problems.add(("version",), f"unsupported version {text!r} (use 0.2)")
    return text


def _variables(value: Any, problems: ProblemList) -> dict[str, str]:
    variables = mapping_at(value, ("env", "variables"), problems)
    out: dict[str, str] = {}
    for name, raw in variables.items():
        path: SpecPath = ("env", "variables", str(name))
        if str(name).startswith("CODEBUILD_"):
            problems.add(path, "names starting CODEBUILD_ are reserved")
        elif isinstance(raw, dict | list):
            problems.add(path, "a variable's value must be a string")
        else:
            out[str(name)] = scalar_text(raw)
    return out


def _secrets(env: dict[str, Any], plain: set[str], problems: ProblemList) -> tuple[SecretReference, ...]:
    found: list[SecretReference] = []
    for store in ("parameter-store", "secrets-manager"):
        for variable, raw in mapping_at(env.get(store), ("env", store), problems).items():
            path: SpecPath = ("env", store, str(variable))
            if str(variable) in plain or any(s.variable == str(variable) for s in found):
                problems.add(path, f"{variable} is defined more than once in env")
            elif not VARIABLE_NAME.match(str(variable)) or str(variable).startswith("CODEBUILD_"):
                problems.add(path, f"{variable!r} cannot be a variable name here")
            elif not isinstance(raw, str) or not raw.strip():
                problems.add(path, "needs the name of a parameter or secret")
            elif store == "parameter-store":
                found.append(SecretReference(str(variable), store, raw.strip()))
            else:
                reference = secrets_manager_reference(str(variable), raw.strip())
                if reference.version_stage and reference.version_id:
                    problems.add(path, "give a version stage or a version id, not both")
                found.append(reference)
    return tuple(found)


def secrets_manager_reference(variable: str, text: str) -> SecretReference:
    """`secret-id[:json-key[:version-stage[:version-id]]]`, where the secret id may be an ARN (itself with colons)."""
    parts = text.split(":")
    cut = 7 if text.startswith("arn:") else 1  # arn:aws:secretsmanager:<region>:<account>:secret:<name>
    secret_id, rest = ":".join(parts[:cut]), [*parts[cut:], "", "", ""]
    return SecretReference(variable, "secrets-manager", secret_id, rest[0] or None, rest[1] or None, rest[2] or None)


def _phases(value: Any, problems: ProblemList) -> tuple[PhaseSpec, ...]:
    phases = mapping_at(value, ("phases",), problems)
    for name in sorted(set(map(str, phases)) - set(BUILDSPEC_PHASES)):
        problems.add(("phases", name), f"unknown phase (phases are {', '.join(BUILDSPEC_PHASES)})")
    out = []
    for name in BUILDSPEC_PHASES:  # always in this order, however the file lists them
        if name not in phases:
            continue
        body = mapping_at(phases[name], ("phases", name), problems)
        for key in sorted(set(map(str, body)) - PHASE_KEYS):
            problems.add(("phases", name, key), "unknown key")
        if "runtime-versions" in body and name != "install":
            problems.add(("phases", name, "runtime-versions"), "runtime-versions belongs in the install phase")
        commands = string_list_at(body.get("commands"), ("phases", name, "commands"), problems)
        finally_commands = string_list_at(body.get("finally"), ("phases", name, "finally"), problems)
        on_failure = body.get("on-failure")
        if on_failure is not None and not _valid_on_failure(str(on_failure)):
            problems.add(
                ("phases", name, "on-failure"),
                f"{on_failure!r} is not ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>",
            )
        out.append(
            PhaseSpec(
                name,
                tuple(commands),
                tuple(finally_commands),
                None if on_failure is None else str(on_failure),
                _runtime_versions(body.get("runtime-versions"), ("phases", name, "runtime-versions"), problems),
                _user(body.get("run-as"), ("phases", name, "run-as"), problems),
            )
        )
    return tuple(out)


def _yes_or_no(value: Any, path: SpecPath, problems: ProblemList) -> bool:
    """`yes` or `no` (YAML may have read either as a boolean already); absent: no."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = scalar_text(value).strip().lower()
    if text not in ("yes", "no"):
        problems.add(path, f"must be yes or no, not {scalar_text(value)!r}")
    return text == "yes"


def _user(value: Any, path: SpecPath, problems: ProblemList) -> str | None:
    if value is None:
        return None
    text = scalar_text(value).strip()
    if isinstance(value, dict | list) or not text or any(c.isspace() for c in text):
        problems.add(path, "needs the name of a Linux user")
        return None
    return text


def _runtime_versions(value: Any, path: SpecPath, problems: ProblemList) -> tuple[tuple[str, str], ...]:
    """`runtime: version` pairs, each version as written (`python: 3.10` is 3.10, not the number 3.1)."""
    found = []
    for runtime, raw in mapping_at(value, path, problems).items():
        where = (*path, str(runtime))
        if raw is None or isinstance(raw, dict | list) or not scalar_text(raw).strip():
            problems.add(where, "needs a version (3.12, 18, 3.x, latest or $VARIABLE)")
            continue
        found.append((str(runtime), problems.document.texts.get(where, scalar_text(raw)).strip()))
    return tuple(found)


def _valid_on_failure(value: str) -> bool:
    if value in {"ABORT", "CONTINUE"}:
        return True
    policy = retry_policy(value)
    if policy is None or not 0 <= policy.retries <= 100 or value == "RETRY-":
        return False
    try:
        re.compile(policy.pattern or "")
    except re.error:
        return False
    return True


def _not_yet_run(data: dict[str, Any]) -> tuple[str, ...]:
    return tuple(k for k in ("proxy",) if k in data)
