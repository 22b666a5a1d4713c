"""The buildspec's `batch` section: the builds a batch runs, as one flat list of tasks. Pure parsing.

`build-list` tasks all start at once; `build-graph` tasks start when every task they `depend-on` is done;
`build-matrix` runs one task per combination of its `dynamic` values (buildspecs by compute types by images by
each variable's values), all at once. Decided where AWS says nothing: a matrix task's identifier is made of the values
that vary (`build1_NODE_18`, or the buildspec's file name and the values), letters, digits and `_` only, made unique
by a number when two come out the same; a dependency that failed with `ignore-failure` counts as done.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from conveyor.compute import COMPUTE_TYPES
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList, is_yes, mapping_at, optional_text, scalar_text, string_list_at

BATCH_KEYS = {"fast-fail", "build-list", "build-graph", "build-matrix", "build-fanout"}
TASK_KEYS = {"identifier", "buildspec", "debug-session", "env", "ignore-failure", "depend-on"}
TASK_ENV_KEYS = {"compute-type", "image", "privileged-mode", "type", "variables", "fleet"}
MATRIX_KEYS = {"static", "dynamic"}
IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,127}\Z")
MAX_TASKS = 100  # CodeBuild's default limit on the builds of one batch


@dataclass(frozen=True)
class BatchTask:
    identifier: str
    buildspec: str | None = None  # a path in the source; None: the batch's own buildspec
    variables: dict[str, str] = field(default_factory=dict)  # win over the buildspec's and the project's
    compute_type: str | None = None
    ignore_failure: bool = False
    depend_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchSpec:
    kind: str  # build-list, build-graph or build-matrix
    tasks: tuple[BatchTask, ...]
    fast_fail: bool = False


def parse_batch(value: Any, problems: ProblemList) -> BatchSpec | None:
    if value is None:
        return None
    body = mapping_at(value, ("batch",), problems)
    for key in sorted(set(map(str, body)) - BATCH_KEYS):
        problems.add(("batch", key), "unknown key")
    kinds = [k for k in ("build-list", "build-graph", "build-matrix", "build-fanout") if k in body]
    if len(kinds) != 1:
        problems.add(("batch",), "a batch needs exactly one of build-list, build-graph or build-matrix")
        return None
    kind = kinds[0]
    if kind == "build-fanout":
        problems.add(("batch", kind), "build-fanout is not supported by Conveyor (use build-matrix or build-list)")
        return None
    tasks = _matrix(body[kind], problems) if kind == "build-matrix" else _task_list(body[kind], kind, problems)
    if len(tasks) > MAX_TASKS:
        problems.add(("batch", kind), f"a batch runs at most {MAX_TASKS} builds, this one {len(tasks)}")
    if kind == "build-graph":
        _check_graph(tasks, problems)
    return BatchSpec(kind, tuple(tasks), is_yes(body.get("fast-fail")))


def _task_list(value: Any, kind: str, problems: ProblemList) -> list[BatchTask]:
    if not isinstance(value, list) or not value:
        problems.add(("batch", kind), "must be a non-empty list of tasks")
        return []
    tasks: list[BatchTask] = []
    seen: set[str] = set()
    for index, raw in enumerate(value):
        path: SpecPath = ("batch", kind, index)
        item = mapping_at(raw, path, problems)
        allowed = TASK_KEYS if kind == "build-graph" else TASK_KEYS - {"depend-on"}
        for key in sorted(set(map(str, item)) - allowed):
            problems.add((*path, key), "unknown key")
        identifier = scalar_text(item.get("identifier"))
        if not IDENTIFIER.match(identifier):
            problems.add((*path, "identifier"), "needs an identifier of letters, digits and _ (at most 127)")
        elif identifier in seen:
            problems.add((*path, "identifier"), f"identifier {identifier!r} is used twice")
        seen.add(identifier)
        env = _task_env(item.get("env"), (*path, "env"), problems)
        tasks.append(
            BatchTask(
                identifier,
                optional_text(item.get("buildspec")),
                env["variables"],
                env["compute_type"],
                is_yes(item.get("ignore-failure")),
                tuple(string_list_at(item.get("depend-on"), (*path, "depend-on"), problems)),
            )
        )
    return tasks


def _task_env(value: Any, path: SpecPath, problems: ProblemList) -> dict[str, Any]:
    env = mapping_at(value, path, problems)
    for key in sorted(set(map(str, env)) - TASK_ENV_KEYS):
        problems.add((*path, key), "unknown key")
    compute_type = optional_text(env.get("compute-type"))
    if compute_type is not None and compute_type not in COMPUTE_TYPES:
        problems.add((*path, "compute-type"), f"{compute_type!r} is not a compute type")
    variables = {}
    for name, raw in mapping_at(env.get("variables"), (*path, "variables"), problems).items():
        if isinstance(raw, dict | list):
            problems.add((*path, "variables", str(name)), "a variable's value must be a string")
        else:
            variables[str(name)] = scalar_text(raw)
    return {"variables": variables, "compute_type": compute_type}


def _matrix(value: Any, problems: ProblemList) -> list[BatchTask]:
    body = mapping_at(value, ("batch", "build-matrix"), problems)
    for key in sorted(set(map(str, body)) - MATRIX_KEYS):
        problems.add(("batch", "build-matrix", key), "unknown key")
    static = mapping_at(body.get("static"), ("batch", "build-matrix", "static"), problems)
    static_env = _task_env(static.get("env"), ("batch", "build-matrix", "static", "env"), problems)
    dynamic_path: SpecPath = ("batch", "build-matrix", "dynamic")
    dynamic = mapping_at(body.get("dynamic"), dynamic_path, problems)
    for key in sorted(set(map(str, dynamic)) - {"buildspec", "env"}):
        problems.add((*dynamic_path, key), "unknown key")
    dimensions: list[tuple[str, list[str]]] = []
    buildspecs = string_list_at(dynamic.get("buildspec"), (*dynamic_path, "buildspec"), problems)
    if buildspecs:
        dimensions.append(("buildspec", buildspecs))
    env = mapping_at(dynamic.get("env"), (*dynamic_path, "env"), problems)
    for key in sorted(set(map(str, env)) - {"compute-type", "image", "variables"}):
        problems.add((*dynamic_path, "env", key), "unknown key")
    for key in ("compute-type", "image"):
        values = string_list_at(env.get(key), (*dynamic_path, "env", key), problems)
        for item in values if key == "compute-type" else ():
            if item not in COMPUTE_TYPES:
                problems.add((*dynamic_path, "env", key), f"{item!r} is not a compute type")
        if values:
            dimensions.append((key, values))
    for name, raw in mapping_at(env.get("variables"), (*dynamic_path, "env", "variables"), problems).items():
        values = string_list_at(raw, (*dynamic_path, "env", "variables", str(name)), problems)
        if values:
            dimensions.append((f"variables.{name}", values))
    if not dimensions:
        problems.add(dynamic_path, "a build matrix needs dynamic values (buildspec or env)")
        return []
    return _expand(dimensions, static_env, is_yes(static.get("ignore-failure")))


def _expand(dimensions: list[tuple[str, list[str]]], static_env: dict[str, Any], ignore: bool) -> list[BatchTask]:
    tasks: list[BatchTask] = []
    used: set[str] = set()
    for combination in itertools.product(*(values for _, values in dimensions)):
        chosen = dict(zip((name for name, _ in dimensions), combination, strict=True))
        variables = {**static_env["variables"]}
        variables.update({k.removeprefix("variables."): v for k, v in chosen.items() if k.startswith("variables.")})
        identifier = _matrix_identifier(chosen, used)
        used.add(identifier)
        tasks.append(
            BatchTask(
                identifier,
                chosen.get("buildspec"),
                variables,
                chosen.get("compute-type") or static_env["compute_type"],
                ignore,
            )
        )
    return tasks


def _matrix_identifier(chosen: dict[str, str], used: set[str]) -> str:
    parts = []
    for name, value in chosen.items():
        if name == "buildspec":
            parts.append(value.rsplit("/", 1)[-1].rsplit(".", 1)[0])
        elif name.startswith("variables."):
            parts.append(f"{name.removeprefix('variables.')}_{value}")
        else:
            parts.append(value)
    base = re.sub(r"[^A-Za-z0-9_]+", "_", "_".join(parts)).strip("_")[:120] or "build"
    identifier, number = base, 2
    while identifier in used:
        identifier, number = f"{base}_{number}", number + 1
    return identifier


def _check_graph(tasks: list[BatchTask], problems: ProblemList) -> None:
    known = {task.identifier for task in tasks}
    for index, task in enumerate(tasks):
        for dependency in task.depend_on:
            if dependency not in known:
                problems.add(("batch", "build-graph", index, "depend-on"), f"no task {dependency!r} in the graph")
    cycle = _cycle({t.identifier: [d for d in t.depend_on if d in known] for t in tasks})
    if cycle:
        problems.add(("batch", "build-graph"), f"the tasks depend on each other in a cycle: {' → '.join(cycle)}")


def _cycle(edges: dict[str, list[str]]) -> list[str]:
    """One dependency cycle (its identifiers, the first repeated at the end), or []."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in edges.get(node, []):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if state.get(nxt) is None and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for node in edges:
        if state.get(node) is None and (found := visit(node)):
            return found
    return []
