"""Conveyor's exceptions.

    ConveyorError                  anything Conveyor raises on purpose
    ├── ConfigurationError         a setting is missing or malformed (the operator must act)
    ├── SpecError                  a user's file is invalid; carries every Problem found, with path and line
    ├── Unauthorized               missing or wrong credentials or signature (HTTP 401)
    ├── NotFound                   the named thing does not exist (HTTP 404)
    ├── Conflict                   the request clashes with existing state (HTTP 409)
    ├── InvalidRequest             a request is malformed (HTTP 400)
    └── ServiceUnavailable         SQL, Redis or the blob store cannot be reached (HTTP 503)

User-facing errors carry a message a person can act on and, for the HTTP edge, a status code. Secret values never
appear in any message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ConveyorError(Exception):
    """Base of every error Conveyor raises on purpose."""

    status_code = 500
    code = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message}


class ConfigurationError(ConveyorError):
    code = "ConfigurationError"


class Unauthorized(ConveyorError):
    status_code = 401
    code = "Unauthorized"


class NotFound(ConveyorError):
    status_code = 404
    code = "NotFound"


class Conflict(ConveyorError):
    status_code = 409
    code = "Conflict"


class InvalidRequest(ConveyorError):
    status_code = 400
    code = "InvalidRequest"


class ServiceUnavailable(ConveyorError):
    status_code = 503
    code = "ServiceUnavailable"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a user's file: where (a path like `pipeline.stages[0].name`, and a line) and what."""

    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path}: {self.message}" if self.path else f"{where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "message": self.message}


@dataclass
class SpecError(ConveyorError):
    """A user's file is invalid. Every problem is reported at once."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    status_code = 400
    code = "InvalidSpecification"

    def __post_init__(self) -> None:
        ConveyorError.__init__(self, self.describe())

    def describe(self) -> str:
        lines = [f"{self.source}: {_count(len(self.problems), 'problem')}"]
        lines += [
            f"  {self.source}:{p.line}: {p.path or '(document)'}: {p.message}"
            if p.line
            else f"  {self.source}: {p.path or '(document)'}: {p.message}"
            for p in self.problems
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": f"{self.source} is invalid ({_count(len(self.problems), 'problem')})",
            "source": self.source,
            "problems": [p.to_dict() for p in self.problems],
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
