"""Lambda invoke actions end to end: Conveyor invokes the function through boto3 (moto records nothing, so the
test reads the event off Conveyor's own lambda client as it is sent), and the test plays the function: it reads and
writes artifacts in S3 and reports with a real boto3 `codepipeline` client over HTTP to a real Conveyor server."""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from werkzeug.serving import make_server

from conveyor import aws
from conveyor.config import Settings
from conveyor.db.models import utcnow
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from handlers.app import create_app
from jobs.dispatch import RQInspector
from tests.conftest import AWS_REGION, settings_for
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline

BUCKET = "conveyor-artifacts"
FUNCTION = "notify-release"
TARGET = "CodePipeline_20150709."


@pytest.fixture
def aws_mock(request: pytest.FixtureRequest, fake_aws_credentials: None) -> Iterator[None]:
    """Moto for every AWS call; Lambda runs no code (no Docker here) unless the test asks for the Docker backend,
    whose checks (a missing function) come before any container."""
    docker = getattr(request, "param", False)
    with mock_aws(config={"lambda": {"use_docker": docker}}):
        boto3.client("s3", region_name=AWS_REGION).create_bucket(Bucket=BUCKET)
        yield


@pytest.fixture
def settings(tmp_path: Any, database_url: str, redis_client: Any, aws_mock: None) -> Settings:
    return settings_for(tmp_path, database_url, blob_url=f"s3://{BUCKET}/store")


@pytest.fixture
def function(aws_mock: None) -> str:
    role = boto3.client("iam", region_name=AWS_REGION).create_role(
        RoleName="notify-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    boto3.client("lambda", region_name=AWS_REGION).create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="index.handler",
        Code={"ZipFile": _zip({"index.py": "def handler(event, context):\n    return None\n"})},
    )
    return FUNCTION


@pytest.fixture
def invocations(rt: Runtime, aws_mock: None) -> list[dict[str, Any]]:
    """The events Conveyor invokes functions with, read off its lambda client as each request is made."""
    events: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        assert params["InvocationType"] == "Event"
        events.append({"function": params["FunctionName"], **json.loads(params["Payload"])})

    aws.client("lambda", rt.settings).meta.events.register("provide-client-params.lambda.Invoke", record)
    return events


@pytest.fixture
def server(settings: Settings, rt: Runtime) -> Iterator[str]:
    """A real Conveyor web server on a free port, on the test's settings."""
    app = create_app({field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/aws/codepipeline"
    httpd.shutdown()
    thread.join(timeout=5)
    app.extensions["conveyor"].db.dispose()


@pytest.fixture
def codepipeline(server: str) -> Any:
    """What a function's code does: a boto3 codepipeline client, pointed at Conveyor."""
    return boto3.client("codepipeline", region_name=AWS_REGION, endpoint_url=server)


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _lambda_action(outputs: tuple[str, ...] = ("Notified",)) -> dict[str, Any]:
    return {
        "name": "Notify",
        "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
        "configuration": {"FunctionName": FUNCTION, "UserParameters": "release #{SourceVariables.CommitId}"},
        "inputArtifacts": [{"name": "SourceOutput"}],
        "outputArtifacts": [{"name": name} for name in outputs],
        "namespace": "Notify",
    }


def _definition(repo: GitRepo, name: str, *later: dict[str, Any], outputs: tuple[str, ...] = ("Notified",)) -> str:
    document = pipeline(name, repo.url, build_actions=[_lambda_action(outputs)])
    document["pipeline"]["stages"][0]["actions"][0]["namespace"] = "SourceVariables"
    if later:
        document["pipeline"]["stages"].append({"name": "Use", "actions": list(later)})
    return as_yaml(document)


def _notify(rt: Runtime, execution_id: str) -> dict[str, Any]:
    action: dict[str, Any] = views.get_execution(rt, execution_id)["stages"][1]["actions"][0]
    return action


def _s3_location(artifact: dict[str, Any]) -> tuple[str, str]:
    assert artifact["location"]["type"] == "S3"
    location = artifact["location"]["s3Location"]
    return location["bucketName"], location["objectKey"]


def _error_code(info: pytest.ExceptionInfo[ClientError]) -> str:
    return str(info.value.response["Error"]["Code"])


USE_GREETING = {
    "name": "Greet",
    "actionTypeId": {"category": "Compute", "owner": "AWS", "provider": "Commands", "version": "1"},
    "inputArtifacts": [{"name": "Notified"}],
    "commands": ['test "$(cat greeting.txt)" = "#{Notify.Greeting}"', "echo #{Notify.Greeting} > seen.txt"],
    "outputArtifacts": [{"name": "Seen", "files": ["seen.txt"]}],
}


def test_the_function_gets_its_job_and_its_report_finishes_the_action(
    rt: Runtime, repo: GitRepo, run_jobs: Any, function: str, invocations: list[dict[str, Any]], codepipeline: Any
) -> None:
    sha = repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "invoke", USE_GREETING))
    execution_id = pipelines.start_pipeline(rt, "invoke")
    run_jobs()

    assert _notify(rt, execution_id)["status"] == "InProgress"
    [event] = invocations
    job = event["CodePipeline.job"]
    assert event["function"] == function
    assert job["accountId"] == "000000000000"
    data = job["data"]
    assert data["actionConfiguration"] == {
        "configuration": {"FunctionName": function, "UserParameters": f"release {sha}"}
    }
    assert "continuationToken" not in data
    assert "artifactCredentials" not in data
    [source] = data["inputArtifacts"]
    assert (source["name"], source["revision"]) == ("SourceOutput", sha)
    s3 = boto3.client("s3", region_name=AWS_REGION)
    bucket, key = _s3_location(source)
    assert bucket == BUCKET
    with zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as archive:
        assert archive.read("app.txt") == b"the app"
    [output] = data["outputArtifacts"]
    assert (output["name"], output["revision"]) == ("Notified", None)
    bucket, key = _s3_location(output)
    s3.put_object(Bucket=bucket, Key=key, Body=_zip({"greeting.txt": "hello"}))
    assert job["id"] not in json.dumps(views.get_execution(rt, execution_id))  # a working job id is shown nowhere

    codepipeline.put_job_success_result(
        jobId=job["id"],
        outputVariables={"Greeting": "hello"},
        executionDetails={"summary": "release announced", "externalExecutionId": "announcement-7"},
        currentRevision={"revision": "rev-7", "changeIdentifier": "change-7"},
    )
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    notify = execution["stages"][1]["actions"][0]
    assert notify["outputVariables"] == {"Greeting": "hello"}
    assert notify["summary"] == "release announced"
    assert notify["externalExecutionId"] == "announcement-7"
    assert notify["outputArtifacts"]["Notified"]["revision"] == "rev-7"
    greet = execution["stages"][2]["actions"][0]
    with zipfile.ZipFile(io.BytesIO(rt.blobs.get_bytes(greet["outputArtifacts"]["Seen"]["key"]))) as archive:
        assert archive.read("seen.txt") == b"hello\n"

    with pytest.raises(ClientError) as info:
        codepipeline.put_job_success_result(jobId=job["id"])
    assert _error_code(info) == "InvalidJobStateException"
    assert len(invocations) == 1


def test_a_continued_job_invokes_the_function_again_with_its_token_under_a_new_id(
    rt: Runtime, repo: GitRepo, run_jobs: Any, function: str, invocations: list[dict[str, Any]], codepipeline: Any
) -> None:
    repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "continued", outputs=()))
    execution_id = pipelines.start_pipeline(rt, "continued")
    run_jobs()
    first = invocations[0]["CodePipeline.job"]["id"]

    codepipeline.put_job_success_result(
        jobId=first, continuationToken="deployment-42", executionDetails={"summary": "halfway", "percentComplete": 50}
    )
    assert _notify(rt, execution_id)["summary"] == "halfway"
    run_jobs()

    assert len(invocations) == 2
    second = invocations[1]["CodePipeline.job"]
    assert second["data"]["continuationToken"] == "deployment-42"
    assert second["id"] != first
    with pytest.raises(ClientError) as info:
        codepipeline.put_job_success_result(jobId=first)
    assert _error_code(info) == "JobNotFoundException"

    codepipeline.put_job_failure_result(
        jobId=second["id"],
        failureDetails={"type": "ConfigurationError", "message": "no such environment", "externalExecutionId": "d-42"},
    )
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    notify = execution["stages"][1]["actions"][0]
    assert (notify["status"], notify["errorCode"]) == ("Failed", "ConfigurationError")
    assert notify["summary"] == "no such environment"
    assert notify["externalExecutionId"] == "d-42"
    assert execution["status"] == "Failed"
    assert "no such environment" in execution["statusSummary"]
    assert len(invocations) == 2


def test_refused_reports_change_nothing(
    rt: Runtime, repo: GitRepo, run_jobs: Any, function: str, invocations: list[dict[str, Any]], codepipeline: Any
) -> None:
    repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "refusals", outputs=()))
    execution_id = pipelines.start_pipeline(rt, "refusals")
    run_jobs()
    job_id = invocations[0]["CodePipeline.job"]["id"]
    action_id = _notify(rt, execution_id)["actionExecutionId"]

    def refused(call: Any, **arguments: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as info:
            call(**arguments)
        return _error_code(info), str(info.value.response["Error"]["Message"])

    forged = f"{action_id}.{'0' * 32}"
    assert refused(codepipeline.put_job_success_result, jobId=forged)[0] == "JobNotFoundException"
    assert refused(codepipeline.put_job_success_result, jobId="11111111-abcd-1111-abcd-111111abcdef")[0] == (
        "JobNotFoundException"
    )
    code, message = refused(codepipeline.put_job_success_result, jobId=job_id, outputVariables={"Big": "x" * 130_000})
    assert code == "OutputVariablesSizeExceededException"
    assert "130003 bytes" in message
    code, message = refused(
        codepipeline.put_job_success_result, jobId=job_id, continuationToken="t", outputVariables={"A": "b"}
    )
    assert (code, "outputVariables can be given only with no continuationToken" in message) == (
        "ValidationException",
        True,
    )
    code, message = refused(
        codepipeline.put_job_failure_result, jobId=job_id, failureDetails={"type": "Oops", "message": "m"}
    )
    assert (code, "failureDetails.type must be one of" in message) == ("ValidationException", True)

    assert _notify(rt, execution_id)["status"] == "InProgress"
    codepipeline.put_job_success_result(jobId=job_id, outputVariables={"Fine": "yes"})
    run_jobs()
    assert _notify(rt, execution_id)["outputVariables"] == {"Fine": "yes"}


def test_the_endpoint_answers_in_the_json_protocols_error_shape(rt: Runtime, server: str) -> None:
    def post(target: str, body: bytes) -> requests.Response:
        headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
        return requests.post(server, data=body, headers=headers, timeout=10)

    unknown = post(f"{TARGET}GetPipeline", b"{}")
    assert unknown.status_code == 400
    assert unknown.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert unknown.json()["__type"] == "UnknownOperationException"
    assert post(f"{TARGET}PutJobSuccessResult", b"{not json").json()["__type"] == "SerializationException"
    missing = post(f"{TARGET}PutJobSuccessResult", b'{"outputVariables": {}}')
    assert (missing.status_code, missing.json()) == (
        400,
        {"__type": "ValidationException", "message": "jobId is required"},
    )
    wrong = post(f"{TARGET}PutJobFailureResult", json.dumps({"jobId": "x", "failureDetails": "broken"}).encode())
    assert wrong.json() == {"__type": "ValidationException", "message": "failureDetails must be an object"}


def test_a_success_without_the_declared_output_artifact_fails_the_action(
    rt: Runtime, repo: GitRepo, run_jobs: Any, function: str, invocations: list[dict[str, Any]], codepipeline: Any
) -> None:
    repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "forgetful"))
    execution_id = pipelines.start_pipeline(rt, "forgetful")
    run_jobs()

    codepipeline.put_job_success_result(jobId=invocations[0]["CodePipeline.job"]["id"])
    run_jobs()

    notify = _notify(rt, execution_id)
    assert (notify["status"], notify["errorCode"]) == ("Failed", "JobFailed")
    assert f"function {function} reported success but wrote no output artifact Notified" in notify["summary"]
    assert f"s3://{BUCKET}/store/pipelines/forgetful/{execution_id}/Notified.zip" in notify["summary"]


def test_a_job_nobody_reports_on_times_out_after_twenty_minutes(
    rt: Runtime, repo: GitRepo, run_jobs: Any, function: str, invocations: list[dict[str, Any]], codepipeline: Any
) -> None:
    repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "silent", outputs=()))
    execution_id = pipelines.start_pipeline(rt, "silent")
    run_jobs()
    inspector = RQInspector(rt.redis)

    assert reconcile(rt, inspector, now=utcnow() + timedelta(minutes=19)).jobs_timed_out == []
    report = reconcile(rt, inspector, now=utcnow() + timedelta(minutes=21))

    notify = _notify(rt, execution_id)
    assert report.jobs_timed_out == [notify["actionExecutionId"]]
    assert (notify["status"], notify["errorCode"]) == ("Failed", "JobFailed")
    assert notify["summary"].startswith(f"function {function} did not report on its job within 20 minutes")
    assert views.get_execution(rt, execution_id)["status"] == "Failed"
    with pytest.raises(ClientError) as info:
        codepipeline.put_job_success_result(jobId=invocations[0]["CodePipeline.job"]["id"])
    assert _error_code(info) == "InvalidJobStateException"


@pytest.mark.parametrize("aws_mock", [True], indirect=True, ids=["lambda-checks"])
def test_a_function_that_does_not_exist_fails_the_action(rt: Runtime, repo: GitRepo, run_jobs: Any) -> None:
    repo.commit({"app.txt": "the app"})
    definitions.create_pipeline(rt, _definition(repo, "missing", outputs=()))
    execution_id = pipelines.start_pipeline(rt, "missing")
    run_jobs()

    notify = _notify(rt, execution_id)
    assert (notify["status"], notify["errorCode"]) == ("Failed", "ConfigurationError")
    assert notify["summary"].startswith(f"could not invoke function {FUNCTION}: ResourceNotFoundException")
    assert views.get_execution(rt, execution_id)["status"] == "Failed"
