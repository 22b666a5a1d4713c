"""Reading users' YAML and JSON files with the line of every key, and collecting problems with their paths.

Every spec parser (pipelines, buildspecs, appspecs) loads through `load_document` and reports through a
`ProblemList`, so errors read alike everywhere: `file:line: path: what is wrong`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from conveyor.errors import Problem, SpecError

PathPart = str | int
Path = tuple[PathPart, ...]


def render_path(path: Path) -> str:
    """`("pipeline", "stages", 0, "name")` → `pipeline.stages[0].name`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class Document:
    """A parsed file: its data and the line (1-based) where each path starts."""

    source: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    texts: dict[Path, str] = field(default_factory=dict)  # each plain scalar as written (`3.10`, not 3.1)

    def line_of(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class ProblemList:
    """Problems found in one document, each with its path and line."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(render_path(path), message, self.document.line_of(path)))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.problems)

    def add_apart(self, found: ProblemList) -> None:
        """Add the problems a later check `found`, but those at, above or below a path already named here: the
        same mistake said again, or a consequence of it."""
        named = [problem.path for problem in self.problems]
        self.problems.extend(p for p in found if not any(_related(p.path, path) for path in named))

    def raise_if_any(self) -> None:
        if self.problems:
            problems = sorted(self.problems, key=lambda p: (p.line or 0, p.path))
            raise SpecError(self.document.source, problems)


def _related(a: str, b: str) -> bool:
    """Whether one rendered path is the other or lies under it (the document's root is above every path)."""
    short, long = sorted((a, b), key=len)
    return not short or long == short or long.startswith((f"{short}.", f"{short}["))


def load_document(text: str, source: str) -> Document:
    """Parse YAML (or JSON) text, raising SpecError with the line of a syntax error."""
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    try:
        loader = _LOADER(text)
    except yaml.reader.ReaderError as exc:  # the loader checks every character before it parses anything
        raise _bad_character(source, text, exc) from None
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:
        raise _bad_character(source, text, exc) from None
    except yaml.MarkedYAMLError as exc:
        if _looks_like_json(text):  # YAML's parser refuses some valid JSON (tabs), and JSON's errors say more
            return Document(source, _json_document(text, source))
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        message = f"not valid YAML: {exc.problem or exc.context}"
        raise SpecError(source, [Problem("", message, line)]) from None
    except yaml.YAMLError as exc:
        raise SpecError(source, [Problem("", f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    document = Document(source, data)
    duplicates: list[Problem] = []
    if node is not None:
        _record_lines(node, (), document, duplicates, set())
    if duplicates:
        raise SpecError(source, duplicates)
    return document


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: ten times faster


def _bad_character(source: str, text: str, exc: yaml.reader.ReaderError) -> SpecError:
    message = f"not valid YAML: character #x{exc.character:04x} is not allowed"
    return SpecError(source, [Problem("", message, text.count("\n", 0, exc.position) + 1)])


def _looks_like_json(text: str) -> bool:
    """An object whose first key is quoted, or an array: not a YAML flow mapping such as `{name: demo}`."""
    opening = text.lstrip()[:1]
    return opening == "[" or (opening == "{" and text.lstrip()[1:].lstrip()[:1] in ('"', "}"))


def _json_document(text: str, source: str) -> Any:
    """A document that YAML could not read and that looks like JSON: JSON's own reading, or JSON's own error."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"not valid JSON: {exc.msg} (column {exc.colno})"
        raise SpecError(source, [Problem("", message, exc.lineno)]) from None


def _record_lines(
    node: yaml.Node, path: Path, document: Document, duplicates: list[Problem], visited: set[int]
) -> None:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode) and not node.style:  # plain (None in Python, "" from libyaml)
        document.texts.setdefault(path, node.value)
    if id(node) in visited:  # an alias: walking it again could recurse forever (`&a [*a]`) or explode (nested aliases)
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*path, key)
            if key in seen:
                duplicates.append(Problem(render_path(child), "duplicate key", key_node.start_mark.line + 1))
            seen.add(key)
            document.lines[child] = key_node.start_mark.line + 1
            _record_lines(value_node, child, document, duplicates, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), document, duplicates, visited)


# -- reading values, for every spec parser ----------------------------------------------------------------------


def mapping_at(value: Any, path: Path, problems: ProblemList) -> dict[str, Any]:
    """The mapping at `path`, or {} (and a problem unless it is absent)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping")
        return {}
    return value


def scalar_text(value: Any) -> str:
    """A YAML scalar as the text a user meant (`true`, not `True`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def string_list_at(value: Any, path: Path, problems: ProblemList) -> list[str]:
    """A list of strings (a lone scalar counts as one; empty `-` entries are skipped)."""
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if not isinstance(value, list):
        problems.add(path, "must be a list of strings")
        return []
    out = []
    for index, item in enumerate(value):
        if item is None:
            continue  # an empty `-` entry
        if isinstance(item, dict | list):
            problems.add((*path, index), "must be a string; quote a command that contains ': '")
        else:
            out.append(scalar_text(item))
    return out


def optional_text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def is_yes(value: Any) -> bool:
    return value is True or str(value).lower() in ("yes", "true")
