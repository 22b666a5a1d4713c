"""`install.runtime-versions`: choosing the runtimes a build asked for among those installed on the worker.

CodeBuild's images carry several versions of each runtime; a worker carries what its owner installed. Conveyor
looks in three places, in this order, and takes the highest version that matches:

1. the worker's runtimes directory (`<data dir>/runtimes` by default): `<runtime>/<version>/bin`, e.g.
   `nodejs/18.19.0/bin` or `python/3.12.1/bin` — the place to put several versions side by side;
2. versioned executables on PATH (`python3.12`), given a `python`/`python3` shim of their own;
3. the runtime's usual executable on PATH (`node`, `java`, `go`, …), whose version it reports.

A version is exact (`3.12`, `18`, `corretto17`), `N.x` (any of major N), `latest`, or `$VARIABLE` (read from the
build's variables). A runtime the worker does not have is a warning, as CodeBuild warns on images without runtime
selection; the build goes on with what PATH has.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# runtime name → (executables that report its version, the arguments that make them say it)
PROBES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "python": (("python3", "python"), ("--version",)),
    "nodejs": (("node",), ("--version",)),
    "java": (("java",), ("-version",)),
    "golang": (("go",), ("version",)),
    "ruby": (("ruby",), ("--version",)),
    "php": (("php",), ("--version",)),
    "dotnet": (("dotnet",), ("--version",)),
}
KNOWN = (*PROBES, "android")
VERSIONED_ON_PATH = {"python": re.compile(r"python(\d+\.\d+)\Z")}
_VERSION = re.compile(r"(\d+(?:\.\d+)*)")


@dataclass(frozen=True)
class Installed:
    version: str
    bin_dir: Path | None  # to put first on PATH; None: it is what PATH gives already
    where: str  # for the log
    shim: tuple[tuple[str, Path], ...] = ()  # names to link to an executable, in a directory put first on PATH


@dataclass(frozen=True)
class Selection:
    runtime: str
    wanted: str
    chosen: Installed | None
    available: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.chosen is not None:
            return f"Selected runtime {self.runtime} {self.chosen.version} ({self.chosen.where})"
        if self.runtime not in KNOWN:
            return f"Warning: unknown runtime {self.runtime!r} (known: {', '.join(KNOWN)}); not selected"
        found = ", ".join(self.available) or "none"
        return (
            f"Warning: runtime {self.runtime} {self.wanted} is not installed on this worker (found: {found}); "
            "skipping its selection"
        )


def select(
    wanted: tuple[tuple[str, str], ...], variables: Mapping[str, str], runtimes_dir: Path | None, path: str
) -> list[Selection]:
    """For each `(runtime, version)` asked for, the installed version chosen (or None, with what there is)."""
    selections = []
    for runtime, raw in wanted:
        version = _resolve_variable(raw, variables)
        candidates = list(_installed(runtime, runtimes_dir, path))
        matching = [c for c in candidates if matches(version, c.version)]
        best = max(matching, key=lambda c: _sort_key(c.version), default=None)
        selections.append(Selection(runtime, version, best, tuple(sorted({c.version for c in candidates}))))
    return selections


def path_entries(selections: list[Selection], shims: Path) -> list[str]:
    """The directories to put first on PATH for the chosen runtimes, making the shims some of them need."""
    first: list[str] = []
    for selection in selections:
        if selection.chosen is None:
            continue
        if selection.chosen.bin_dir is not None:
            first.append(str(selection.chosen.bin_dir))
        for name, target in selection.chosen.shim:
            shims.mkdir(parents=True, exist_ok=True)
            (shims / name).unlink(missing_ok=True)
            (shims / name).symlink_to(target)
            first.append(str(shims))
    return list(dict.fromkeys(first))


def matches(wanted: str, version: str) -> bool:
    """Whether an installed `version` satisfies `wanted` (`3.12`, `18`, `3.x`, `latest`, `corretto17`)."""
    wanted = wanted.strip().lower()
    if wanted in ("latest", "", "x", "*"):
        return True
    digits = _VERSION.search(wanted.removesuffix(".x").removesuffix(".*"))
    if digits is None:
        return False
    want = digits.group(1).split(".")
    have = version.split(".")
    return have[: len(want)] == want


def _resolve_variable(raw: str, variables: Mapping[str, str]) -> str:
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", raw.strip())
    if match is None:
        return raw
    return variables.get(match.group(1), os.environ.get(match.group(1), ""))


def _installed(runtime: str, runtimes_dir: Path | None, path: str) -> list[Installed]:
    found: list[Installed] = []
    if runtimes_dir is not None and (runtimes_dir / runtime).is_dir():
        for entry in sorted((runtimes_dir / runtime).iterdir()):
            bin_dir = entry / "bin" if (entry / "bin").is_dir() else entry
            if entry.is_dir() and _VERSION.match(entry.name):
                found.append(Installed(entry.name, bin_dir, str(bin_dir)))
    pattern = VERSIONED_ON_PATH.get(runtime)
    if pattern is not None:
        for directory in path.split(os.pathsep):
            for executable in sorted(Path(directory).glob("*")) if Path(directory).is_dir() else ():
                match = pattern.match(executable.name)
                if match and os.access(executable, os.X_OK):
                    names = ((runtime, executable), (f"{runtime}{match.group(1).split('.')[0]}", executable))
                    found.append(Installed(match.group(1), None, str(executable), names))
    default = _default_version(runtime, path)
    if default is not None:
        found.append(default)
    return found


def _default_version(runtime: str, path: str) -> Installed | None:
    if runtime not in PROBES:
        return None
    names, arguments = PROBES[runtime]
    for name in names:
        executable = shutil.which(name, path=path)
        if executable is None:
            continue
        try:
            probe = subprocess.run([executable, *arguments], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = _VERSION.search(probe.stdout + probe.stderr)
        if match:
            return Installed(match.group(1), None, executable)
    return None


def _sort_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())
