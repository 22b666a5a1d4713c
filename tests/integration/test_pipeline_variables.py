"""Variables between actions on real builds: source outputs, pipeline variables, the execution id and a build's
exported variables reach the actions after them; a reference with no value fails its action, naming it."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline

BUILDSPEC = """\
version: 0.2
env:
  exported-variables:
    - VERSION
phases:
  build:
    commands:
      - mkdir -p out
      - VERSION="v-${COMMIT:0:7}"
      - printf '%s\\n' "commit=$COMMIT" "message=$MESSAGE" "env=$DEPLOY_ENV" "execution=$EXECUTION" > out/vars.txt
      - printf '%s\\n' "upstream=${UPSTREAM:-none}" >> out/vars.txt
artifacts:
  files: [out/vars.txt]
"""


def _environment(**values: str) -> str:
    return json.dumps([{"name": name, "value": value, "type": "PLAINTEXT"} for name, value in values.items()])


def _definition(name: str, repo: GitRepo, upstream_reference: str) -> str:
    stamp = build_action("Stamp", outputs=("StampOut",), run_order=1, namespace="BuildVariables")
    stamp["configuration"]["EnvironmentVariables"] = _environment(
        COMMIT="#{SourceVariables.CommitId}",
        MESSAGE="#{SourceVariables.CommitMessage}",
        DEPLOY_ENV="#{variables.DEPLOY_ENV}",
        EXECUTION="#{codepipeline.PipelineExecutionId}",
    )
    use = build_action("Use", outputs=("UseOut",), run_order=2)
    use["configuration"]["EnvironmentVariables"] = _environment(UPSTREAM=upstream_reference)
    document = pipeline(
        name,
        repo.url,
        build_actions=[stamp, use],
        variables=[{"name": "DEPLOY_ENV", "defaultValue": "staging"}],
    )
    document["pipeline"]["stages"][0]["actions"][0]["namespace"] = "SourceVariables"
    return as_yaml(document)


def _artifact_lines(rt: Runtime, action: dict[str, Any], artifact: str) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(action["outputArtifacts"][artifact]["key"]))) as archive:
        return archive.read("out/vars.txt").decode().splitlines()


def test_variables_flow_from_source_pipeline_and_build_to_later_actions(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    sha = repo.commit({"buildspec.yml": BUILDSPEC}, 'ship "v2"')
    definitions.create_pipeline(rt, _definition("vars", repo, "#{BuildVariables.VERSION}"))

    execution_id = pipelines.start_pipeline(rt, "vars", variables={"DEPLOY_ENV": "prod"})
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert execution["variables"] == {"DEPLOY_ENV": "prod"}
    stamp, use = execution["stages"][1]["actions"]
    assert _artifact_lines(rt, stamp, "StampOut") == [
        f"commit={sha}",
        'message=ship "v2"',
        "env=prod",
        f"execution={execution_id}",
        "upstream=none",
    ]
    assert stamp["outputVariables"] == {"VERSION": f"v-{sha[:7]}"}
    assert _artifact_lines(rt, use, "UseOut")[-1] == f"upstream=v-{sha[:7]}"
    resolved = json.loads(use["resolvedConfiguration"]["EnvironmentVariables"])
    assert resolved == [{"name": "UPSTREAM", "value": f"v-{sha[:7]}", "type": "PLAINTEXT"}]


def test_a_pipeline_variable_left_to_its_default(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"buildspec.yml": BUILDSPEC})
    definitions.create_pipeline(rt, _definition("defaults", repo, "#{BuildVariables.VERSION}"))
    execution_id = pipelines.start_pipeline(rt, "defaults")
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["variables"] == {"DEPLOY_ENV": "staging"}
    assert "env=staging" in _artifact_lines(rt, execution["stages"][1]["actions"][0], "StampOut")


def test_a_key_the_build_did_not_export_fails_the_action_that_needs_it(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": BUILDSPEC})
    definitions.create_pipeline(rt, _definition("missing", repo, "#{BuildVariables.RELEASE}"))
    execution_id = pipelines.start_pipeline(rt, "missing")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    stamp, use = execution["stages"][1]["actions"]
    assert stamp["status"] == "Succeeded"
    assert use["status"] == "Failed"
    assert use["errorCode"] == "ConfigurationError"
    assert use["externalExecutionId"] is None  # no build was started for it
    assert "#{BuildVariables.RELEASE} in configuration EnvironmentVariables" in use["summary"]
    assert "(it has: VERSION)" in use["summary"]
    assert execution["status"] == "Failed"
    assert "#{BuildVariables.RELEASE}" in execution["statusSummary"]
