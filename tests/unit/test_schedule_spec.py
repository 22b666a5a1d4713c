"""Reading a schedule as the API takes it: defaults, both target kinds, and every problem at once with its path."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.errors import SpecError
from conveyor.schedules.engine import MissedSlots
from conveyor.schedules.spec import ScheduleState, ScheduleTarget, TargetKind, parse_schedule


def problems(body: Any, name: str | None = None) -> dict[str, str]:
    with pytest.raises(SpecError) as raised:
        parse_schedule(body, name)
    return {p.path: p.message for p in raised.value.problems}


def test_a_pipeline_schedule_with_every_field() -> None:
    spec = parse_schedule(
        {
            "name": "nightly.release_1",
            "scheduleExpression": "cron(0 2 ? * MON-FRI *)",
            "scheduleExpressionTimezone": "Europe/Paris",
            "description": "the nightly release",
            "state": "DISABLED",
            "missed": "skip",
            "target": {"pipelineName": "app", "variables": {"ENV": "prod"}, "revision": "Source=abc123"},
        }
    )
    assert spec.name == "nightly.release_1"
    assert (spec.expression, spec.timezone, spec.missed, spec.state) == (
        "cron(0 2 ? * MON-FRI *)",
        "Europe/Paris",
        MissedSlots.SKIP,
        ScheduleState.DISABLED,
    )
    assert spec.target == ScheduleTarget(TargetKind.PIPELINE, "app", {"ENV": "prod"}, "Source=abc123")


def test_defaults_and_a_project_target_with_variables_as_aws_lists_them() -> None:
    spec = parse_schedule(
        {
            "name": "cleanup",
            "scheduleExpression": "rate(1 day)",
            "target": {"projectName": "janitor", "environmentVariables": [{"name": "KEEP_DAYS", "value": "7"}]},
        }
    )
    assert (spec.timezone, spec.missed, spec.state, spec.description) == ("UTC", MissedSlots.RUN_ONCE, None, None)
    assert spec.target == ScheduleTarget(TargetKind.PROJECT, "janitor", {"KEEP_DAYS": "7"})


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    found = problems(
        {
            "name": "no spaces allowed",
            "scheduleExpression": "cron(0 25 * * ? *)",
            "scheduleExpressionTimezone": "Mars/Olympus_Mons",
            "description": "x" * 513,
            "state": "PAUSED",
            "missed": "catch-up",
            "target": {"pipelineName": "app", "variables": {"1BAD": "x", "GOOD": 3}, "revision": "", "extra": 1},
            "schedule": "typo",
        }
    )
    assert found == {
        "schedule": "unknown key",
        "name": "needs 1 to 64 letters, digits, '.', '_' or '-'",
        "scheduleExpression": "Hours: 25 is out of range 0-23",
        "scheduleExpressionTimezone": (
            "unknown time zone 'Mars/Olympus_Mons': use an IANA name such as Europe/Paris or UTC"
        ),
        "target.extra": "unknown key",
        "target.revision": "must be a commit id, or ACTION=COMMIT",
        "target.variables.1BAD": "a name is letters, digits and '_', not starting with a digit",
        "target.variables.GOOD": "the value must be a string",
        "missed": "must be one of 'run-once', 'skip'",
        "description": "must be a string of at most 512 characters",
        "state": "must be one of 'ENABLED', 'DISABLED'",
    }


@pytest.mark.parametrize(
    ("target", "path", "message"),
    [
        (None, "target", 'needs one of "pipelineName" (a pipeline) or "projectName" (a project)'),
        ({}, "target", 'needs one of "pipelineName"'),
        ({"pipelineName": "a", "projectName": "b"}, "target", 'needs one of "pipelineName"'),
        ({"pipelineName": ""}, "target.pipelineName", "must be a name"),
        ({"projectName": "p", "revision": "abc"}, "target.revision", "unknown key"),
        ({"projectName": "p", "variables": {}}, "target.variables", "unknown key"),
        ({"projectName": "p", "environmentVariables": "A=1"}, "target.environmentVariables", "must be an object"),
        (
            {"projectName": "p", "environmentVariables": {"CODEBUILD_BUILD_ID": "x"}},
            "target.environmentVariables.CODEBUILD_BUILD_ID",
            "names starting with CODEBUILD_ are CodeBuild's own",
        ),
    ],
)
def test_target_problems(target: Any, path: str, message: str) -> None:
    found = problems({"name": "s", "scheduleExpression": "rate(1 hour)", "target": target})
    assert message in found[path]


def test_the_expression_is_required_and_a_body_must_be_an_object() -> None:
    assert "is required" in problems({"name": "s", "target": {"pipelineName": "p"}})["scheduleExpression"]
    assert problems(["not", "an", "object"]) == {"": "a schedule must be a JSON object"}


def test_an_update_takes_its_name_from_the_path_and_a_different_one_is_refused() -> None:
    body = {"scheduleExpression": "rate(1 hour)", "target": {"pipelineName": "p"}}
    assert parse_schedule(body, "from-path").name == "from-path"
    assert parse_schedule({**body, "name": "from-path"}, "from-path").name == "from-path"
    assert problems({**body, "name": "other"}, "from-path") == {
        "name": "the body names 'other', the path 'from-path': a schedule keeps its name"
    }
