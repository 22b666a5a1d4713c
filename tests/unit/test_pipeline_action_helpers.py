"""Pure parts of the Commands and Lambda providers: the generated buildspec, project names, job ids, deadlines and
the artifact locations in a job event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conveyor.blobs import LocalBlobStore, S3BlobStore
from conveyor.build.spec import parse_buildspec
from conveyor.db.models import ActionExecution
from conveyor.ids import new_id
from conveyor.pipeline.actions.base import ActionRun
from conveyor.pipeline.actions.commands import commands_buildspec, project_name
from conveyor.pipeline.actions.lambda_invoke import job_event
from conveyor.pipeline.actions.lambda_jobs import (
    WaitingJob,
    action_of_job,
    job_hash,
    keep_waiting_job,
    new_job_id,
    waiting_job,
)
from conveyor.pipeline.spec import ActionDeclaration, ActionTypeId

AWKWARD_COMMANDS = [
    "echo 'key: value' # not a comment for YAML",
    'export GREETING="hello: world"',
    "- echo a dash first",
    "{ echo braces; }",
    "echo '#{not a reference}' && echo \"quotes\" | tr a b",
    "echo " + "long " * 300,
]


def test_the_buildspec_keeps_every_command_exactly_and_in_order() -> None:
    spec = parse_buildspec(commands_buildspec(AWKWARD_COMMANDS, (), None), "buildspec (inline)")

    build = spec.phase("build")
    assert build is not None
    assert list(build.commands) == AWKWARD_COMMANDS
    assert spec.artifacts is None
    assert spec.exported_variables == ()


def test_output_variables_are_exported_and_aws_names_go_through_an_alias() -> None:
    text = commands_buildspec(["true"], ("VERSION", "AWS_DEFAULT_REGION"), None)
    spec = parse_buildspec(text, "buildspec (inline)")

    assert spec.exported_variables == ("VERSION", "CONVEYOR_EXPORT_AWS_DEFAULT_REGION")
    build = spec.phase("build")
    assert build is not None
    assert list(build.finally_commands) == ['CONVEYOR_EXPORT_AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION-}"']


def test_an_output_artifact_takes_its_files_or_everything() -> None:
    named = parse_buildspec(commands_buildspec(["true"], (), ("dist/**/*", "README.md")), "inline")
    everything = parse_buildspec(commands_buildspec(["true"], (), ()), "inline")

    assert named.artifacts is not None
    assert list(named.artifacts.files) == ["dist/**/*", "README.md"]
    assert everything.artifacts is not None
    assert list(everything.artifacts.files) == ["**/*"]


def test_project_names_are_what_codebuild_accepts() -> None:
    assert project_name("web.app@2", "Build", "Unit_tests") == "commands-web-app-2-Build-Unit_tests"
    long = project_name("p" * 100, "s" * 100, "a" * 100)
    assert len(long) == 255
    assert long != project_name("p" * 100, "s" * 100, "a" * 99 + "b")
    assert long == project_name("p" * 100, "s" * 100, "a" * 100)


def test_a_job_id_names_its_action_and_is_not_guessable() -> None:
    action_id = new_id()
    first, second = new_job_id(action_id), new_job_id(action_id)

    assert first != second
    assert action_of_job(first) == action_id
    assert len(first.rpartition(".")[2]) == 32


_SOME_ID = "6f1c2f0e-3d4b-4f5e-9a7b-1c2d3e4f5a6b"  # fixed: test ids must be the same in every collecting process


@pytest.mark.parametrize("text", ["", "not-a-job", _SOME_ID, f"{_SOME_ID}.short", f"{_SOME_ID}.{'g' * 32}"])
def test_a_string_that_is_no_job_id_names_no_action(text: str) -> None:
    assert action_of_job(text) is None


def test_a_waiting_job_holds_only_its_own_id_and_expires_after_twenty_minutes() -> None:
    action = ActionExecution(id=new_id(), output_artifacts={}, status="InProgress")
    job_id = new_job_id(action.id)
    since = datetime(2030, 1, 1, tzinfo=UTC)
    keep_waiting_job(action, WaitingJob(2, since, job_hash(job_id), continuation_token="step-2"))

    job = waiting_job(action)
    assert job == WaitingJob(2, since, job_hash(job_id), "step-2")
    assert job_id not in str(action.provider_state)  # only its hash is kept
    assert job.holds(job_id)
    assert not job.holds(new_job_id(action.id))
    assert not job.expired(since + timedelta(minutes=20))
    assert job.expired(since + timedelta(minutes=20, seconds=1))
    reported = WaitingJob(2, since, job_hash(job_id), report={"outputVariables": None})
    assert not reported.expired(since + timedelta(days=1))  # a success waits only for its check


def test_an_action_without_a_record_waits_on_no_job() -> None:
    assert waiting_job(ActionExecution(id=new_id(), output_artifacts={"Out": {"key": "k"}})) is None
    assert not WaitingJob(1, datetime.now(UTC)).holds(new_job_id(new_id()))  # not invoked yet: no id holds it


def _run(outputs: tuple[str, ...]) -> ActionRun:
    declaration = ActionDeclaration(
        name="Notify",
        type_id=ActionTypeId("Invoke", "AWS", "Lambda", "1"),
        run_order=1,
        configuration={"FunctionName": "f"},
        input_artifacts=("Src",),
        output_artifacts=outputs,
    )
    return ActionRun(
        action_execution_id=new_id(),
        execution_id="e-1",
        pipeline_name="p",
        declaration=declaration,
        configuration={"FunctionName": "f", "UserParameters": "u"},
        input_artifacts={"Src": {"key": "pipelines/p/e-1/Src.zip", "revision": "abc"}},
        source_revisions={},
    )


def test_the_event_locates_artifacts_in_s3_when_the_blob_store_is_s3() -> None:
    store = S3BlobStore("bucket", "prefix/dir", client=None)
    event = job_event(store, _run(("Out",)), "job-1", continuation_token="again")

    job = event["CodePipeline.job"]
    assert job["id"] == "job-1"
    assert job["data"]["continuationToken"] == "again"
    assert job["data"]["inputArtifacts"] == [
        {
            "name": "Src",
            "revision": "abc",
            "location": {
                "type": "S3",
                "s3Location": {"bucketName": "bucket", "objectKey": "prefix/dir/pipelines/p/e-1/Src.zip"},
            },
        }
    ]
    assert (
        job["data"]["outputArtifacts"][0]["location"]["s3Location"]["objectKey"] == "prefix/dir/pipelines/p/e-1/Out.zip"
    )


def test_the_event_gives_a_conveyor_location_for_a_local_blob_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    event = job_event(store, _run(()), "job-1", continuation_token=None)

    data = event["CodePipeline.job"]["data"]
    assert "continuationToken" not in data
    assert data["outputArtifacts"] == []
    assert data["inputArtifacts"][0]["location"] == {
        "type": "Conveyor",
        "conveyorLocation": {
            "blobKey": "pipelines/p/e-1/Src.zip",
            "url": (tmp_path / "pipelines/p/e-1/Src.zip").as_uri(),
        },
    }
