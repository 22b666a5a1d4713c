"""The import rule that keeps the layers apart, read from the source with `ast` (nothing is imported).

Engines and spec parsers are pure: no I/O libraries. The core (`conveyor/`) knows neither Flask nor RQ nor the
edges (`handlers/`, `jobs/`); only the CLI may reach RQ and the job modules. Handlers enqueue through `jobs`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMPURE = frozenset(
    {"flask", "rq", "redis", "boto3", "botocore", "sqlalchemy", "git", "requests", "subprocess", "socket"}
)
EDGES = frozenset({"flask", "rq", "handlers", "jobs"})
_DYNAMIC_IMPORTS = frozenset({"import_module", "__import__"})


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(source: str, module: str, *, is_package: bool = False) -> Iterable[tuple[int, str]]:
    """`(line, module name)` for every import in the source: anywhere in it, relative ones made absolute.

    `from a import b` yields both `a` and `a.b`, since `b` may be a module; `importlib.import_module("x")` and
    `__import__("x")` with a literal name count as well.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, is_package, node.level, node.module) if node.level else node.module
            assert base is not None
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if function in _DYNAMIC_IMPORTS and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def is_within(name: str, packages: Iterable[str]) -> str | None:
    """The forbidden top-level package `name` belongs to, if any (`sqlalchemy.orm` → `sqlalchemy`)."""
    return next((p for p in packages if name == p or name.startswith(f"{p}.")), None)


def violations(source: str, module: str, forbidden: Iterable[str], *, is_package: bool = False) -> list[Violation]:
    """Every import in `source` of a package in `forbidden`, once per line and package."""
    found = {
        Violation(module, line, package)
        for line, name in imports_of(source, module, is_package=is_package)
        if (package := is_within(name, forbidden))
    }
    return sorted(found, key=lambda v: (v.line, v.imported))


def source_files(*folders: str) -> list[Path]:
    return sorted(path for folder in folders for path in (ROOT / folder).rglob("*.py"))


def check(paths: Iterable[Path], forbidden: Iterable[str]) -> list[str]:
    forbidden = frozenset(forbidden)
    return [
        str(violation)
        for path in paths
        for violation in violations(
            path.read_text(), module_name(path), forbidden, is_package=path.name == "__init__.py"
        )
    ]


def pure_modules() -> list[Path]:
    return [path for path in source_files("conveyor") if path.name in {"engine.py", "spec.py"}]


def project_file(name: str) -> Path | None:
    """The source file of a module of this project, or None for outside modules and non-modules."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reachable_project_files(start: Path) -> set[Path]:
    """`start` and every module of the project it imports, directly or through others (packages included)."""
    seen: set[Path] = set()
    pending = [start]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for _, name in imports_of(path.read_text(), module_name(path), is_package=path.name == "__init__.py"):
            parts = name.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
                found = project_file(".".join(parts[:end]))
                if found is not None:
                    pending.append(found)
    return seen


# The rules, applied to the repository.


def test_there_are_engines_and_spec_parsers_to_check() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in pure_modules()}

    assert {"conveyor/pipeline/engine.py", "conveyor/pipeline/spec.py", "conveyor/build/spec.py"} <= names


def test_engines_and_spec_parsers_import_no_io_library() -> None:
    assert check(pure_modules(), IMPURE) == []


@pytest.mark.parametrize("path", pure_modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_engines_and_spec_parsers_reach_no_io_library_through_other_modules(path: Path) -> None:
    assert check(sorted(reachable_project_files(path)), IMPURE) == []


def test_the_core_imports_neither_flask_nor_rq_nor_the_edges() -> None:
    core = [path for path in source_files("conveyor") if "cli" not in path.relative_to(ROOT / "conveyor").parts]

    assert len(core) > 10
    assert check(core, EDGES) == []


def test_nothing_in_conveyor_imports_flask_not_even_the_cli() -> None:
    assert check(source_files("conveyor"), {"flask"}) == []


def test_handlers_reach_rq_only_through_jobs() -> None:
    handlers = source_files("handlers")

    assert handlers
    assert check(handlers, {"rq"}) == []


# The checker itself must be able to fail.


VIOLATING_ENGINE = """\
from __future__ import annotations
import subprocess
from typing import TYPE_CHECKING
from sqlalchemy.orm import Session
import importlib

from conveyor import git
from conveyor.pipeline.status import ActionStatus

if TYPE_CHECKING:
    import redis


def run() -> None:
    import flask
    importlib.import_module("boto3")
"""


def test_the_checker_reports_every_forbidden_import_with_its_line() -> None:
    found = violations(VIOLATING_ENGINE, "conveyor.pipeline.engine", IMPURE)

    assert [str(v) for v in found] == [
        "conveyor.pipeline.engine:2 imports subprocess",
        "conveyor.pipeline.engine:4 imports sqlalchemy",
        "conveyor.pipeline.engine:11 imports redis",
        "conveyor.pipeline.engine:15 imports flask",
        "conveyor.pipeline.engine:16 imports boto3",
    ]


def test_the_checker_tells_gitpython_from_conveyor_git() -> None:
    assert violations("from conveyor import git\nimport conveyor.git\n", "conveyor.x", {"git"}) == []
    assert [v.line for v in violations("import git\nfrom git import Repo\n", "conveyor.x", {"git"})] == [1, 2]


def test_the_checker_resolves_relative_imports() -> None:
    source = "from .. import jobs\nfrom . import helpers\nfrom ...handlers import api\n"

    found = violations(source, "conveyor.pipeline.engine", {"conveyor.jobs", "conveyor.pipeline.helpers", "handlers"})

    assert [str(v) for v in found] == [
        "conveyor.pipeline.engine:1 imports conveyor.jobs",
        "conveyor.pipeline.engine:2 imports conveyor.pipeline.helpers",
        "conveyor.pipeline.engine:3 imports handlers",
    ]


def test_the_checker_does_not_mistake_a_prefix_for_a_package() -> None:
    assert violations("import rqueue\nimport gitlab\nimport requests_toolbelt\n", "m", {"rq", "git", "requests"}) == []


def test_the_rules_catch_a_violating_file() -> None:
    engine = ROOT / "conveyor" / "pipeline" / "engine.py"
    assert check([engine], IMPURE) == []

    found = violations(engine.read_text() + "\nimport requests\n", module_name(engine), IMPURE)

    assert [v.imported for v in found] == ["requests"]
