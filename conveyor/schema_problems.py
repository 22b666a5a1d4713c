"""The structural half of validating a user's file against its JSON Schema (pipeline definitions, deployment
groups): each schema error becomes a problem at its own path.

Whether the rules between fields that follow can still read the document depends on what kind of errors there
were: a value the schema refuses (a name off its pattern, a number out of range, a list too long, an unknown key)
leaves every field where the rules look for it and of the type they expect, so they run too and one report carries
every problem; a missing key or a value of the wrong type does not, and the report stops at the schema's problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

# The validators whose errors are about a value, not the document's shape.
VALUE_VALIDATORS = frozenset(
    {
        "additionalProperties",
        "const",
        "enum",
        "maxItems",
        "maxLength",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "pattern",
        "propertyNames",
        "uniqueItems",
    }
)


@dataclass(frozen=True)
class SchemaFindings:
    problems: list[tuple[SpecPath, str]]
    shape_holds: bool  # no error of shape: the rules between fields can read the document


def load_validator(schema: Path) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema.read_text()))


def schema_findings(validator: Draft202012Validator, data: Any) -> SchemaFindings:
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    found = [problem for error in errors for problem in _schema_problems(error)]
    return SchemaFindings(found, all(_of_value(error) for error in errors))


def _of_value(error: Any) -> bool:
    """Whether an error is about a value; a list, a mapping or a null where the schema names the values allowed
    (`enum`, `const`, which say nothing of the type) is one of shape."""
    if error.validator in ("enum", "const"):
        return isinstance(error.instance, str | int | float)  # bool is an int
    return error.validator in VALUE_VALIDATORS


def check_beside(problems: ProblemList, check: Callable[[ProblemList], None]) -> None:
    """Run the rules between fields (`check`) after the schema's problems, which hold only problems of value (see
    `SchemaFindings.shape_holds`): what the rules find is added apart from those (`ProblemList.add_apart`), and a
    rule that cannot read a value the schema refused leaves the report to the problems found so far."""
    if not problems:
        check(problems)
        return
    found = ProblemList(problems.document)
    with suppress(KeyError, TypeError, ValueError, AttributeError, IndexError):
        check(found)
    problems.add_apart(found)


def _schema_problems(error: Any) -> list[tuple[SpecPath, str]]:
    """The problems of one schema error; an unknown key is reported at its own path, so at its own line."""
    path = tuple(error.absolute_path)
    if "propertyNames" in error.relative_schema_path and error.instance:  # the error is about a key: say it there
        return [((*path, str(error.instance)), f"the key {message}") for _, message in _value_problems(error, path)]
    return _value_problems(error, path)


def _value_problems(error: Any, path: SpecPath) -> list[tuple[SpecPath, str]]:
    if error.validator == "additionalProperties":
        known = error.schema.get("properties", {})
        return [((*path, str(key)), f"unknown key {key!r}") for key in error.instance if key not in known]
    if error.validator == "pattern":
        return [(path, f"{error.instance!r} does not match {error.validator_value}")]
    if error.validator == "maxLength":  # jsonschema's message repeats the whole text
        return [(path, f"is {len(error.instance)} characters long, above the limit of {error.validator_value}")]
    if error.validator == "minLength":
        if not error.instance:
            return [(path, "is empty")]
        return [(path, f"is {len(error.instance)} characters long, below the minimum of {error.validator_value}")]
    if error.validator in ("minItems", "maxItems"):  # jsonschema's message repeats the whole list
        bound = "at least" if error.validator == "minItems" else "at most"
        items = "item" if error.validator_value == 1 else "items"
        return [(path, f"needs {bound} {error.validator_value} {items}, not {len(error.instance)}")]
    return [(path, str(error.message))]
