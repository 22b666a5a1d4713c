"""Build project files in CodeBuild's shape."""

from __future__ import annotations

import json

import pytest

from conveyor.build.cache_store import CacheConfig
from conveyor.build.project import ProjectVariable, parse_project
from conveyor.errors import SpecError

EXPORTED = {  # what `aws codebuild batch-get-projects` prints for a project, trimmed
    "name": "api-service",
    "arn": "arn:aws:codebuild:eu-west-1:123456789012:project/api-service",
    "description": "Builds the API",
    "source": {"type": "CODEPIPELINE", "buildspec": "ci/buildspec.yml", "insecureSsl": False},
    "artifacts": {"type": "CODEPIPELINE"},
    "environment": {
        "type": "LINUX_CONTAINER",
        "image": "aws/codebuild/standard:7.0",
        "computeType": "BUILD_GENERAL1_MEDIUM",
        "environmentVariables": [
            {"name": "STAGE", "value": "prod", "type": "PLAINTEXT"},
            {"name": "DB_PASSWORD", "value": "/prod/db/password", "type": "PARAMETER_STORE"},
        ],
        "privilegedMode": False,
    },
    "serviceRole": "arn:aws:iam::123456789012:role/codebuild",
    "timeoutInMinutes": 30,
    "queuedTimeoutInMinutes": 60,
    "cache": {"type": "NO_CACHE"},
}


def test_an_exported_aws_project_registers_with_what_conveyor_ignores_listed() -> None:
    spec = parse_project(json.dumps(EXPORTED))
    assert (spec.name, spec.description, spec.buildspec, spec.compute_type) == (
        "api-service",
        "Builds the API",
        "ci/buildspec.yml",
        "BUILD_GENERAL1_MEDIUM",
    )
    assert spec.variables == (
        ProjectVariable("STAGE", "prod"),
        ProjectVariable("DB_PASSWORD", "/prod/db/password", "PARAMETER_STORE"),
    )
    assert (spec.timeout_minutes, spec.queued_timeout_minutes) == (30, 60)
    assert {"arn", "artifacts", "serviceRole", "source.type", "environment.image"} <= set(spec.ignored)
    assert spec.cache == {"type": "NO_CACHE"}


def test_the_create_project_answer_shape_is_accepted() -> None:
    assert parse_project(json.dumps({"project": {"name": "wrapped"}})).name == "wrapped"


def test_every_problem_is_reported_with_its_path_and_line() -> None:
    text = """\
name: -bad
colour: blue
environment:
  computeType: BUILD_GENERAL9_HUGE
  environmentVariables:
    - {name: CODEBUILD_X, value: x}
    - {name: TOKEN, value: t, type: VAULT}
    - {value: no-name}
timeoutInMinutes: 3000
queuedTimeoutInMinutes: 2
"""
    with pytest.raises(SpecError) as caught:
        parse_project(text, "project.yml")
    found = {(p.path, p.line) for p in caught.value.problems}
    assert found == {
        ("name", 1),
        ("colour", 2),
        ("environment.computeType", 4),
        ("environment.environmentVariables[0].name", 6),
        ("environment.environmentVariables[1].type", 7),
        ("environment.environmentVariables[2]", 8),
        ("timeoutInMinutes", 9),
        ("queuedTimeoutInMinutes", 10),
    }


@pytest.mark.parametrize(
    ("cache", "expected"),
    [
        (None, CacheConfig("LOCAL", "api-service")),
        ({"type": "NO_CACHE"}, CacheConfig("NO_CACHE", "api-service")),
        ({"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]}, CacheConfig("LOCAL", "api-service")),
        ({"type": "LOCAL", "modes": ["LOCAL_SOURCE_CACHE"]}, CacheConfig("NO_CACHE", "api-service")),
        ({"type": "S3", "location": "cache-bucket/ci"}, CacheConfig("S3", "api-service", "cache-bucket/ci")),
        ({"type": "S3", "cacheNamespace": "shared"}, CacheConfig("S3", "shared")),
    ],
    ids=["default", "none", "local-custom", "local-source-only", "s3", "namespace"],
)
def test_a_projects_cache_decides_where_its_builds_keep_theirs(
    cache: dict[str, object] | None, expected: CacheConfig
) -> None:
    spec = parse_project(json.dumps({**EXPORTED, "cache": cache}))

    assert CacheConfig.for_project(spec.cache, spec.name) == expected


def test_cache_modes_conveyor_does_not_use_are_listed_as_ignored() -> None:
    cache = {"type": "LOCAL", "modes": ["LOCAL_DOCKER_LAYER_CACHE", "LOCAL_CUSTOM_CACHE"]}
    spec = parse_project(json.dumps({**EXPORTED, "cache": cache}))

    assert "cache.modes.LOCAL_DOCKER_LAYER_CACHE" in spec.ignored
    assert "cache.modes.LOCAL_CUSTOM_CACHE" not in spec.ignored


def test_a_bad_cache_is_reported_field_by_field() -> None:
    cache = {"type": "DISK", "modes": ["FAST"], "cacheNamespace": "", "size": 3}
    with pytest.raises(SpecError) as caught:
        parse_project(json.dumps({"name": "api", "cache": cache}))

    text = str(caught.value)
    assert "cache.type: 'DISK' is not one of NO_CACHE, LOCAL, S3" in text
    assert "cache.modes: must be a list of LOCAL_SOURCE_CACHE" in text
    assert "cache.cacheNamespace: must be a non-empty string" in text
    assert "cache.size: unknown key" in text
