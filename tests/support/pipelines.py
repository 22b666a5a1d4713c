"""Pipeline definitions for tests, built as the dicts a user's YAML would hold."""

from __future__ import annotations

from typing import Any

import yaml

SIMPLE_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - echo building
      - mkdir -p out && echo "built $CODEBUILD_RESOLVED_SOURCE_VERSION" > out/result.txt
artifacts:
  files:
    - out/**/*
"""


def source_action(
    url: str,
    repository_id: str = "acme/app",
    branch: str = "main",
    name: str = "Source",
    output: str = "SourceOutput",
    **extra: str,
) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"},
        "configuration": {"FullRepositoryId": repository_id, "BranchName": branch, "RepositoryUrl": url, **extra},
        "outputArtifacts": [{"name": output}],
    }


def build_action(
    name: str = "Build",
    project: str = "app",
    inputs: tuple[str, ...] = ("SourceOutput",),
    outputs: tuple[str, ...] = ("BuildOutput",),
    run_order: int = 1,
    **extra: Any,
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "name": name,
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "runOrder": run_order,
        "configuration": {"ProjectName": project},
        "inputArtifacts": [{"name": n} for n in inputs],
        "outputArtifacts": [{"name": n} for n in outputs],
    }
    action.update(extra)
    return action


def pipeline(
    name: str,
    url: str,
    *,
    repository_id: str = "acme/app",
    build_actions: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    return {
        "pipeline": {
            "name": name,
            "stages": [
                {"name": "Source", "actions": [source_action(url, repository_id)]},
                {"name": "Build", "actions": build_actions or [build_action()]},
            ],
            **fields,
        }
    }


def as_yaml(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False)
