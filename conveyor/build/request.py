"""What a build is asked to do, what it reports as it goes, and what it gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from conveyor.build.reports import Report
from conveyor.build.spec import BuildSpec, SecretReference, parse_buildspec
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.git_credentials import GitCredential


@dataclass(frozen=True)
class InputArtifact:
    name: str
    key: str


@dataclass(frozen=True)
class BuildRequest:
    """Everything a build needs, read from the database before it starts."""

    build_id: str
    project_name: str
    workspace: Path
    inputs: tuple[InputArtifact, ...]
    environment: dict[str, str]  # CODEBUILD_* values and variables with precedence over the buildspec's
    timeout_seconds: float
    buildspec: str | None = None  # a path inside the source, or the whole YAML inline; None: buildspec.yml
    artifact_key_prefix: str = ""
    local_source: Path | None = None  # a directory to build instead of input artifacts (local runs)
    in_place: bool = False  # build in `local_source` itself rather than in a copy of it
    buildspec_file: Path | None = None  # a buildspec outside the source (local runs)
    secret_references: tuple[SecretReference, ...] = ()  # the project's secret variables: they win over the buildspec's
    sandbox: str = "none"  # "bwrap": the build runs in a bubblewrap sandbox (see conveyor.build.sandbox)
    network: bool = True  # with a sandbox: whether the build may use the network
    runtimes_dir: Path | None = None  # <runtime>/<version>/bin trees for install.runtime-versions
    git_credentials: tuple[GitCredential, ...] = ()  # for a buildspec with env/git-credential-helper: yes
    git_credentials_withheld: str | None = None  # why this build gets none, when it could have had some


@dataclass
class BuildResult:
    status: BuildStatus
    reason: str | None = None
    exported_variables: dict[str, str] = field(default_factory=dict)
    artifact: dict[str, Any] | None = None
    reports: list[Report] = field(default_factory=list)


class PhaseRecorder(Protocol):
    def phase_started(self, phase: PhaseType) -> None: ...

    def phase_ended(self, phase: PhaseType, status: BuildStatus, contexts: list[dict[str, str]]) -> None: ...

    def checkpoint(self) -> None:
        """Commands are about to run: make what was recorded so far visible."""


def load_buildspec(request: BuildRequest, source_dir: Path) -> BuildSpec:
    """The request's buildspec: a file outside the source, inline YAML, or a path in the source (buildspec.yml).

    Raises SpecError for an invalid one and FileNotFoundError for a missing one or a path leaving the source.
    """
    if request.buildspec_file is not None:
        path = request.buildspec_file
        return parse_buildspec(path.read_text(encoding="utf-8", errors="replace"), str(path))
    given = request.buildspec
    if is_inline(given):
        return parse_buildspec(given, "buildspec (inline)")
    relative = given or "buildspec.yml"
    path = (source_dir / relative).resolve()
    if not path.is_relative_to(source_dir.resolve()):
        raise FileNotFoundError(f"buildspec path {relative!r} points outside the source directory")
    if not path.is_file():
        raise FileNotFoundError(f"no buildspec at {relative} in the source")
    return parse_buildspec(path.read_text(encoding="utf-8", errors="replace"), relative)


def is_inline(buildspec: str | None) -> TypeGuard[str]:
    """A project's buildspec is the whole YAML when it spans lines, and otherwise a path in the source."""
    return buildspec is not None and "\n" in buildspec
