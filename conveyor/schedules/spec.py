"""A schedule as the API takes it: read and checked whole, every problem reported at once with its path.

    {
      "name": "nightly",                                  1-64 of [0-9A-Za-z._-] (EventBridge Scheduler's rule)
      "scheduleExpression": "cron(0 2 ? * MON-FRI *)",    cron(…), rate(…) or a standard 5-field line
      "scheduleExpressionTimezone": "Europe/Paris",       an IANA zone; default UTC
      "description": "…",                                 at most 512 characters
      "state": "ENABLED" | "DISABLED",                    default ENABLED; pause and resume change it
      "missed": "run-once" | "skip",                      slots missed while no scheduler ran; default run-once
      "target": {"pipelineName": "app", "variables": {"ENV": "prod"}, "revision": "<sha>|<action>=<sha>"}
             or {"projectName": "cleanup", "environmentVariables": {"KEEP_DAYS": "7"}}
    }

Field names follow EventBridge Scheduler's CreateSchedule where it has one. Variables may also be given as AWS lists
them, `[{"name": …, "value": …}]`. What only the database can tell (the pipeline exists and declares the variables,
the project exists and can build without a source) is checked when the schedule is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from conveyor.errors import Problem, SpecError
from conveyor.schedules.cron_fields import ExpressionError
from conveyor.schedules.engine import MissedSlots
from conveyor.schedules.expressions import UnknownTimeZone, parse_expression, time_zone

NAME_PATTERN = re.compile(r"^[0-9A-Za-z._-]{1,64}$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_DESCRIPTION = 512
KEYS = {"name", "scheduleExpression", "scheduleExpressionTimezone", "description", "state", "missed", "target"}
PIPELINE_KEYS = {"pipelineName", "variables", "revision"}
PROJECT_KEYS = {"projectName", "environmentVariables"}


class ScheduleState(str, Enum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"  # paused: no slot fires; run-now still works


class TargetKind(str, Enum):
    PIPELINE = "pipeline"
    PROJECT = "project"


@dataclass(frozen=True)
class ScheduleTarget:
    kind: TargetKind
    name: str
    variables: dict[str, str] = field(default_factory=dict)  # pipeline variables, or the build's environment
    revision: str | None = None  # pipelines only: SHA, or ACTION=SHA


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    expression: str
    timezone: str
    target: ScheduleTarget
    missed: MissedSlots = MissedSlots.RUN_ONCE
    description: str | None = None
    state: ScheduleState | None = None  # None: not given (a new schedule is ENABLED, a saved one keeps its state)


def parse_schedule(body: Any, name: str | None = None) -> ScheduleSpec:
    """Read a schedule; `name` is the one the request's path gives (an update), which the body may repeat."""
    problems: list[Problem] = []
    if not isinstance(body, dict):
        raise SpecError("schedule", [Problem("", "a schedule must be a JSON object")])
    problems += [Problem(key, "unknown key") for key in sorted(set(map(str, body)) - KEYS)]
    spec = ScheduleSpec(
        name=_name(body.get("name"), name, problems),
        expression=_expression(body.get("scheduleExpression"), problems),
        timezone=_zone(body.get("scheduleExpressionTimezone", "UTC"), problems),
        target=_target(body.get("target"), problems),
        missed=_choice(body, "missed", MissedSlots, MissedSlots.RUN_ONCE, problems),
        description=_description(body.get("description"), problems),
        state=_choice(body, "state", ScheduleState, None, problems),
    )
    if problems:
        raise SpecError("schedule", problems)
    return spec


def _name(given: Any, path_name: str | None, problems: list[Problem]) -> str:
    if given is None and path_name is not None:
        return path_name
    if not isinstance(given, str) or not NAME_PATTERN.match(given):
        problems.append(Problem("name", "needs 1 to 64 letters, digits, '.', '_' or '-'"))
        return ""
    if path_name is not None and given != path_name:
        problems.append(Problem("name", f"the body names {given!r}, the path {path_name!r}: a schedule keeps its name"))
    return given


def _expression(given: Any, problems: list[Problem]) -> str:
    if not isinstance(given, str):
        problems.append(Problem("scheduleExpression", "is required: cron(…), rate(…) or a standard cron line"))
        return ""
    try:
        parse_expression(given)
    except ExpressionError as exc:
        problems.append(Problem("scheduleExpression", f"{exc.field}: {exc.reason}" if exc.field else exc.reason))
    return given


def _zone(given: Any, problems: list[Problem]) -> str:
    if not isinstance(given, str):
        problems.append(Problem("scheduleExpressionTimezone", "must be an IANA time zone name, such as Europe/Paris"))
        return "UTC"
    try:
        time_zone(given)
    except UnknownTimeZone as exc:
        problems.append(Problem("scheduleExpressionTimezone", exc.message))
    return given


def _description(given: Any, problems: list[Problem]) -> str | None:
    if given is not None and (not isinstance(given, str) or len(given) > MAX_DESCRIPTION):
        problems.append(Problem("description", f"must be a string of at most {MAX_DESCRIPTION} characters"))
        return None
    return given


def _choice(body: dict[str, Any], key: str, kind: type[Enum], default: Any, problems: list[Problem]) -> Any:
    if key not in body:
        return default
    try:
        return kind(body[key])
    except ValueError:
        problems.append(Problem(key, f"must be one of {', '.join(repr(m.value) for m in kind)}"))
        return default


def _target(given: Any, problems: list[Problem]) -> ScheduleTarget:
    empty = ScheduleTarget(TargetKind.PIPELINE, "")
    if not isinstance(given, dict) or ("pipelineName" in given) == ("projectName" in given):
        problems.append(Problem("target", 'needs one of "pipelineName" (a pipeline) or "projectName" (a project)'))
        return empty
    pipeline = "pipelineName" in given
    allowed = PIPELINE_KEYS if pipeline else PROJECT_KEYS
    problems += [Problem(f"target.{key}", "unknown key") for key in sorted(set(map(str, given)) - allowed)]
    name_key = "pipelineName" if pipeline else "projectName"
    name = given[name_key]
    if not isinstance(name, str) or not name:
        problems.append(Problem(f"target.{name_key}", "must be a name"))
        name = ""
    if not pipeline:
        variables = _variables(given.get("environmentVariables", {}), "target.environmentVariables", problems)
        return ScheduleTarget(TargetKind.PROJECT, name, variables)
    revision = given.get("revision")
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        problems.append(Problem("target.revision", "must be a commit id, or ACTION=COMMIT"))
        revision = None
    variables = _variables(given.get("variables", {}), "target.variables", problems)
    return ScheduleTarget(TargetKind.PIPELINE, name, variables, revision)


def _variables(given: Any, path: str, problems: list[Problem]) -> dict[str, str]:
    """`{"NAME": "value"}` or `[{"name": …, "value": …}]`; names fit for a shell, values strings."""
    if isinstance(given, list) and all(isinstance(v, dict) and set(v) == {"name", "value"} for v in given):
        given = {v["name"]: v["value"] for v in given}
    if not isinstance(given, dict):
        problems.append(Problem(path, 'must be an object of names to values, or a list of {"name", "value"}'))
        return {}
    variables: dict[str, str] = {}
    for key, value in given.items():
        if not isinstance(key, str) or not VARIABLE_NAME.match(key):
            problems.append(Problem(f"{path}.{key}", "a name is letters, digits and '_', not starting with a digit"))
        elif path.endswith("environmentVariables") and key.startswith("CODEBUILD_"):
            problems.append(Problem(f"{path}.{key}", "names starting with CODEBUILD_ are CodeBuild's own"))
        elif not isinstance(value, str):
            problems.append(Problem(f"{path}.{key}", "the value must be a string"))
        else:
            variables[key] = value
    return variables
