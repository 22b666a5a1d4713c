"""Commands actions on real pipelines: shell commands over a git source, exported variables used by a later action,
an output artifact chosen by `files` globs, and a failing command that fails its action, naming the command."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from conveyor.build import projects
from conveyor.build import views as build_views
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline

COMMANDS_TYPE = {"category": "Compute", "owner": "AWS", "provider": "Commands", "version": "1"}


def commands_action(name: str, commands: list[str], **fields: Any) -> dict[str, Any]:
    return {"name": name, "actionTypeId": dict(COMMANDS_TYPE), "commands": commands, **fields}


def _package_and_check(repo: GitRepo) -> str:
    package = commands_action(
        "Package",
        [
            "echo building #{SourceVariables.CommitId} in execution #{codepipeline.PipelineExecutionId}",
            'export VERSION="$(cat version.txt)-${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}"',
            "cd app",
            "mkdir -p ../dist/nested && cp main.py ../dist/ && echo note > ../dist/nested/note.txt",
            'echo "region: $AWS_DEFAULT_REGION"',
        ],
        inputArtifacts=[{"name": "SourceOutput"}],
        outputArtifacts=[{"name": "Packaged", "files": ["dist/**/*"]}],
        outputVariables=["VERSION", "AWS_DEFAULT_REGION"],
        environmentVariables=[{"name": "GREETING", "value": "hello from #{SourceVariables.BranchName}"}],
        namespace="Package",
    )
    check = commands_action(
        "Check",
        [
            'test "$EXPECTED" = "$(cat version.txt)-${CODEBUILD_RESOLVED_SOURCE_VERSION:0:7}"',
            'test -f "$CODEBUILD_SRC_DIR_Packaged/dist/main.py"',
            'test ! -e "$CODEBUILD_SRC_DIR_Packaged/app"',
            "echo '#{Package.AWS_DEFAULT_REGION}' > region.txt",
        ],
        inputArtifacts=[{"name": "SourceOutput"}, {"name": "Packaged"}],
        outputArtifacts=[{"name": "Checked", "files": ["region.txt"]}],
        environmentVariables=[{"name": "EXPECTED", "value": "#{Package.VERSION}"}],
        runOrder=2,
    )
    document = pipeline("commands", repo.url, build_actions=[package, check])
    document["pipeline"]["stages"][0]["actions"][0]["namespace"] = "SourceVariables"
    return as_yaml(document)


def _files(rt: Runtime, record: dict[str, Any]) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(record["key"]))) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist() if not name.endswith("/")}


def test_commands_run_over_the_source_and_feed_variables_and_artifacts_onward(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    sha = repo.commit({"version.txt": "1.4", "app/main.py": "print('hi')\n", "app/extra.txt": "left behind"})
    definitions.create_pipeline(rt, _package_and_check(repo))

    execution_id = pipelines.start_pipeline(rt, "commands")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    package, check = execution["stages"][1]["actions"]
    assert package["outputVariables"] == {"VERSION": f"1.4-{sha[:7]}", "AWS_DEFAULT_REGION": rt.settings.aws_region}
    assert _files(rt, package["outputArtifacts"]["Packaged"]) == {
        "dist/main.py": "print('hi')\n",
        "dist/nested/note.txt": "note\n",
    }
    assert _files(rt, check["outputArtifacts"]["Checked"]) == {"region.txt": f"{rt.settings.aws_region}\n"}

    build = build_views.get_build(rt, package["externalExecutionId"])
    assert build["projectName"] == "commands-commands-Build-Package"
    assert build["initiator"] == "codepipeline/commands"
    log = build_views.build_log(rt, build["id"])
    assert f"building {sha} in execution {execution_id}" in log  # references resolved before the commands ran
    assert f"region: {rt.settings.aws_region}" in log
    assert projects.get_project(rt, "commands-commands-Build-Package")["timeoutInMinutes"] == 55


def test_a_failing_command_fails_the_action_and_names_the_command(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"README.md": "hello"})
    action = commands_action(
        "Verify",
        ["echo checking", "grep -q goodbye README.md", "echo never reached > reached.txt"],
        inputArtifacts=[{"name": "SourceOutput"}],
        outputArtifacts=[{"name": "Verified"}],
    )
    definitions.create_pipeline(rt, as_yaml(pipeline("failing", repo.url, build_actions=[action])))

    execution_id = pipelines.start_pipeline(rt, "failing")
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    verify = execution["stages"][1]["actions"][0]
    assert verify["status"] == "Failed"
    assert verify["errorCode"] == "JobFailed"
    assert "Error while executing command: grep -q goodbye README.md. Reason: exit status 1" in verify["summary"]
    assert execution["status"] == "Failed"
    log = build_views.build_log(rt, verify["externalExecutionId"])
    assert "Running command echo checking" in log
    assert "Running command echo never reached" not in log  # the commands after a failing one do not run


def test_an_output_artifact_without_files_takes_the_whole_working_directory(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"a.txt": "a", "sub/b.txt": "b"})
    action = commands_action(
        "Everything",
        ["echo made > made.txt"],
        inputArtifacts=[{"name": "SourceOutput"}],
        outputArtifacts=[{"name": "All"}],
        configuration={"ComputeType": "BUILD_GENERAL1_SMALL"},
    )
    definitions.create_pipeline(rt, as_yaml(pipeline("everything", repo.url, build_actions=[action])))

    execution_id = pipelines.start_pipeline(rt, "everything")
    run_jobs()

    action_view = views.get_execution(rt, execution_id)["stages"][1]["actions"][0]
    assert action_view["status"] == "Succeeded", action_view["summary"]
    files = _files(rt, action_view["outputArtifacts"]["All"])
    assert {"a.txt": "a", "sub/b.txt": "b", "made.txt": "made\n"}.items() <= files.items()


def test_an_output_variable_never_set_is_exported_empty(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"a.txt": "a"})
    producer = commands_action(
        "Produce", ["true"], inputArtifacts=[{"name": "SourceOutput"}], outputVariables=["MAYBE"], namespace="Made"
    )
    consumer = commands_action(
        "Consume", ['test -z "#{Made.MAYBE}"'], inputArtifacts=[{"name": "SourceOutput"}], runOrder=2
    )
    definitions.create_pipeline(rt, as_yaml(pipeline("unset", repo.url, build_actions=[producer, consumer])))

    execution_id = pipelines.start_pipeline(rt, "unset")
    run_jobs()

    produce, consume = views.get_execution(rt, execution_id)["stages"][1]["actions"]
    assert produce["outputVariables"] == {"MAYBE": ""}
    assert consume["status"] == "Succeeded", consume["summary"]


def test_a_reference_without_a_value_fails_the_action_before_any_build(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n"})
    producer = build_action("Compile", outputs=(), namespace="Compiled")
    consumer = commands_action(
        "Consume", ["echo ok", "echo #{Compiled.MISSING}"], inputArtifacts=[{"name": "SourceOutput"}], runOrder=2
    )
    definitions.create_pipeline(rt, as_yaml(pipeline("unresolved", repo.url, build_actions=[producer, consumer])))

    execution_id = pipelines.start_pipeline(rt, "unresolved")
    run_jobs()

    compile_view, consume = views.get_execution(rt, execution_id)["stages"][1]["actions"]
    assert compile_view["status"] == "Succeeded"
    assert consume["status"] == "Failed"
    assert consume["errorCode"] == "ConfigurationError"
    assert consume["summary"].startswith("#{Compiled.MISSING} in commands[1]: namespace 'Compiled' has no variable")
    assert consume["externalExecutionId"] is None  # no build was submitted
