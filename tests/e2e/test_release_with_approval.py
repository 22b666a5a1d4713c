"""A three-stage release through HTTP on real processes: parallel builds in one stage, a variable exported by one of
them, a manual approval answered through the API, and a deploy that uses the variable."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conveyor.blobs import open_blob_store
from tests.e2e.conftest import RunningStack
from tests.support.approvals import approval_action
from tests.support.gitrepo import make_repo
from tests.support.pipelines import as_yaml, build_action, source_action

pytestmark = pytest.mark.e2e

BUILDSPEC = """\
version: 0.2
env:
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - VERSION="v-${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}"
      - mkdir -p out && echo "$VERSION" > out/version.txt
artifacts:
  files: [out/version.txt]
"""
CHECKS = "version: 0.2\nphases:\n  build:\n    commands:\n      - test -f app.py\n"
DEPLOY = """\
version: 0.2
phases:
  build:
    commands:
      - echo "deploying $RELEASE" > deployed.txt
artifacts:
  files: [deployed.txt]
"""


def _definition(url: str) -> str:
    package = build_action("Package", project="package", outputs=("Packaged",), namespace="PackageVars")
    checks = build_action("Checks", project="checks", outputs=())
    deploy = build_action("Deploy", project="deploy", outputs=("Deployed",), run_order=2)
    deploy["configuration"]["EnvironmentVariables"] = json.dumps(
        [{"name": "RELEASE", "value": "#{PackageVars.VERSION}", "type": "PLAINTEXT"}]
    )
    return as_yaml(
        {
            "pipeline": {
                "name": "release",
                "pipelineType": "V2",
                "stages": [
                    {"name": "Source", "actions": [source_action(url)]},
                    {"name": "Build", "actions": [package, checks]},
                    {"name": "Release", "actions": [approval_action("Approve"), deploy]},
                ],
            }
        }
    )


def _projects(stack: RunningStack) -> None:
    for name, buildspec in (("package", BUILDSPEC), ("checks", CHECKS), ("deploy", DEPLOY)):
        project = {"name": name, "source": {"buildspec": buildspec}}
        answer = stack.api("POST", "/projects", data=json.dumps(project), headers={"Content-Type": "application/json"})
        assert answer.status_code == 201, answer.text


def _action(execution: dict[str, Any], stage: str, action: str) -> dict[str, Any]:
    found = next(s for s in execution["stages"] if s["stageName"] == stage)
    return next(a for a in found["actions"] if a["actionName"] == action)


def test_release_waits_for_approval_through_http_then_deploys_the_packaged_version(
    conveyor_stack: RunningStack, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app", {"app.py": "print('hi')\n"})
    _projects(conveyor_stack)
    created = conveyor_stack.api(
        "POST", "/pipelines", data=_definition(repo.url), headers={"Content-Type": "application/yaml"}
    )
    assert created.status_code == 201, created.text
    started = conveyor_stack.api("POST", "/pipelines/release/executions", json={})
    assert started.status_code == 202, started.text
    execution_id = started.json()["pipelineExecutionId"]

    waiting = conveyor_stack.wait_for(
        f"/executions/{execution_id}", lambda e: bool(_action(e, "Release", "Approve").get("token"))
    )
    package, checks = (_action(waiting, "Build", name) for name in ("Package", "Checks"))
    assert package["status"] == checks["status"] == "Succeeded"
    assert abs(_seconds(package["startTime"]) - _seconds(checks["startTime"])) < 5  # one runOrder: side by side
    assert _action(waiting, "Release", "Deploy")["status"] is None  # runOrder 2 waits for the approval

    wrong = conveyor_stack.api(
        "POST",
        "/pipelines/release/approvals",
        json={"stageName": "Release", "actionName": "Approve", "token": "nope", "result": {"status": "Approved"}},
    )
    assert wrong.status_code == 400
    assert "does not belong" in wrong.json()["message"]
    answered = conveyor_stack.api(
        "POST",
        "/pipelines/release/approvals",
        json={
            "stageName": "Release",
            "actionName": "Approve",
            "token": _action(waiting, "Release", "Approve")["token"],
            "result": {"status": "Approved", "summary": "ship it"},
            "by": "release-manager",
        },
    )
    assert answered.status_code == 200, answered.text

    done = conveyor_stack.wait_for(f"/executions/{execution_id}", lambda e: e["status"] != "InProgress")
    assert done["status"] == "Succeeded", done["statusSummary"]
    assert _action(done, "Release", "Approve")["summary"] == "Approved by release-manager: ship it"
    deployed = _action(done, "Release", "Deploy")
    version = package["outputVariables"]["VERSION"]
    assert version == f"v-{repo.head()[:7]}"
    blobs = open_blob_store(conveyor_stack.settings)
    with zipfile.ZipFile(io.BytesIO(blobs.get_bytes(deployed["outputArtifacts"]["Deployed"]["key"]))) as archive:
        assert archive.read("deployed.txt").decode().strip() == f"deploying {version}"


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
