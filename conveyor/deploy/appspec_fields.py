"""Reading the mappings and values of an AppSpec, reporting each problem at the path the user wrote.

Host AppSpecs are read by the agent with exact key names; Lambda and ECS AppSpecs are written with `Resources` in
some AWS examples and `resources` in others, so their keys match in any case. Either way a problem's path is the
key as written, so it points at the right line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from conveyor.errors import Problem
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList, scalar_text

VERSION = "0.0"
WHOLE_NUMBER = re.compile(r"\d+\Z")


@dataclass(frozen=True)
class Fields:
    """The keys of one mapping matched to the names a reader knows, each with the path it was written at."""

    path: SpecPath
    written: dict[str, str] = field(default_factory=dict)  # known name → the key as written
    values: dict[str, Any] = field(default_factory=dict)

    def __contains__(self, name: str) -> bool:
        """Whether `name` is given: a key written with nothing after it (null) counts as absent."""
        return self.values.get(name) is not None

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def at(self, name: str) -> SpecPath:
        """The path of `name` as written, or where it would go when absent."""
        return (*self.path, self.written.get(name, name))


def read_fields(
    value: Any,
    path: SpecPath,
    problems: ProblemList,
    known: Iterable[str],
    *,
    any_case: bool = False,
    unknown_hint: Callable[[str], str] | None = None,
) -> Fields:
    """Match the keys of the mapping at `path` to `known`; every other key is a problem (with a hint when given)."""
    fields = Fields(path)
    if value is None:
        return fields
    if not isinstance(value, dict):
        problems.add(path, "must be a mapping")
        return fields
    names = {(name.lower() if any_case else name): name for name in known}
    for key, item in value.items():
        written = str(key)
        name = names.get(written.lower() if any_case else written)
        if name is None:
            hint = unknown_hint(written) if unknown_hint else ""
            problems.add((*path, written), f"unknown key {written!r}{hint}")
        elif name in fields.written:
            problems.add((*path, written), f"{written!r} repeats {fields.written[name]!r} (keys match in any case)")
        else:
            fields.written[name] = written
            fields.values[name] = item
    return fields


def nested_fields(
    parent: Fields, name: str, problems: ProblemList, known: Iterable[str], *, any_case: bool = False
) -> Fields | None:
    """The fields of the mapping under `name`; None when it is absent, null (for `require` to report) or no mapping."""
    value = parent.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.add(parent.at(name), "must be a mapping")
        return None
    return read_fields(value, parent.at(name), problems, known, any_case=any_case)


def sorted_notes(notes: ProblemList) -> tuple[Problem, ...]:
    """Notes in the order of the file, as problems are reported."""
    return tuple(sorted(notes, key=lambda note: (note.line or 0, note.path)))


def require(fields: Fields, names: Iterable[str], problems: ProblemList) -> None:
    """A problem at the mapping for each of `names` it lacks."""
    for name in names:
        if fields.get(name) is None:
            problems.add(fields.path, f"missing required key {name!r}")


def check_version(fields: Fields, problems: ProblemList) -> str:
    """`version: 0.0`, the only AppSpec version; YAML's number 0.0 and the string "0.0" are both accepted."""
    value, path = fields.get("version"), fields.at("version")
    if value is None:
        problems.add(path, "missing required key 'version' (use 0.0)")
    elif isinstance(value, bool) or not (value == VERSION or (isinstance(value, int | float) and value == 0)):
        problems.add(path, f"unsupported version {as_written(value, path, problems)!r} (use 0.0)")
    return VERSION


def as_written(value: Any, path: SpecPath, problems: ProblemList) -> str:
    """A scalar as the user wrote it: a number keeps its digits (`1.10`, not 1.1)."""
    written = problems.document.texts.get(path)
    if isinstance(value, int | float) and not isinstance(value, bool) and written is not None:
        return written
    return scalar_text(value)


def text_at(value: Any, path: SpecPath, problems: ProblemList, what: str = "a string") -> str | None:
    """A non-empty scalar as text (numbers as written), or None with a problem."""
    if isinstance(value, dict | list):
        problems.add(path, f"must be {what}")
        return None
    text = as_written(value, path, problems).strip()
    if not text:
        problems.add(path, f"needs {what}")
        return None
    return text


def text_of(fields: Fields, name: str, problems: ProblemList, what: str = "a string") -> str | None:
    """The text under `name`; None when it is not given (`require` reports that) or is no text (a problem)."""
    return text_at(fields.get(name), fields.at(name), problems, what) if name in fields else None


def whole_number_at(
    value: Any, path: SpecPath, problems: ProblemList, low: int, high: int, unit: str = ""
) -> int | None:
    """An integer between `low` and `high` as written (a string of digits counts), or None with a problem."""
    text = "" if isinstance(value, bool | dict | list) or value is None else as_written(value, path, problems).strip()
    if not WHOLE_NUMBER.match(text):
        problems.add(path, f"must be a whole number{unit} from {low} to {high}")
        return None
    number = int(text)
    if not low <= number <= high:
        problems.add(path, f"{number} is out of range: use a whole number{unit} from {low} to {high}")
        return None
    return number


def user_of(fields: Fields, name: str, problems: ProblemList, what: str = "the name of a Linux user") -> str | None:
    """A user or group name under `name` (one word), or None when not given or not valid (with a problem)."""
    text = text_of(fields, name, problems, what)
    if text is not None and any(c.isspace() for c in text):
        problems.add(fields.at(name), f"needs {what}, without spaces")
        return None
    return text


def number_of(
    fields: Fields,
    name: str,
    problems: ProblemList,
    bounds: tuple[int, int],
    unit: str = "",
    default: int | None = None,
) -> int | None:
    """The whole number under `name`, `default` when not given, or None when not valid (with a problem)."""
    if name not in fields:
        return default
    return whole_number_at(fields.get(name), fields.at(name), problems, *bounds, unit)


def string_items_at(value: Any, path: SpecPath, problems: ProblemList, what: str) -> tuple[tuple[SpecPath, str], ...]:
    """The strings of a list, each with its path (a lone scalar counts as a list of one)."""
    if value is None:
        return ()
    is_list = isinstance(value, list)
    found = []
    for index, item in enumerate(value if is_list else [value]):
        where = (*path, index) if is_list else path
        text = text_at(item, where, problems, what)
        if text is not None:
            found.append((where, text))
    return tuple(found)


def escapes_root(relative: str) -> bool:
    """Whether a path inside the revision climbs out of it with `..` (either slash counts, for Windows bundles)."""
    depth = 0
    for part in relative.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False
