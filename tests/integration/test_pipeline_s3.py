"""S3 source and S3 deploy actions on the real engine and workers, against S3 as moto serves it.

moto patches boto3 in this process only, so the jobs run here too (`run_jobs`) inside `mock_aws()`. The pipeline's
own artifact store stays the blob store (a local directory).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from conveyor import aws
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.pipeline.status import TriggerType
from conveyor.runtime import Runtime
from tests.conftest import AWS_REGION
from tests.support.pipelines import as_yaml

SITE = {
    "index.html": "<h1>hello</h1>",
    "css/site.css": "h1 { color: teal }",
    "js/app.js": "console.log('hi')",
    "img/logo.png": "\x89PNG",
    "data/feed.json": "{}",
    "notes": "no suffix",
}


@pytest.fixture
def s3(fake_aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name=AWS_REGION)


def zip_of(files: dict[str, str]) -> bytes:
    """The same files always make the same bytes (a fixed time on every entry)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 5, 1, 12, 0, 0)), text)
    return buffer.getvalue()


def source_action(bucket: str, key: str = "app.zip", **extra: Any) -> dict[str, Any]:
    return {
        "name": "Source",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": bucket, "S3ObjectKey": key, "PollForSourceChanges": "false"},
        "outputArtifacts": [{"name": "SourceOutput"}],
        "namespace": "SourceVariables",
        **extra,
    }


def deploy_action(name: str = "Deploy", run_order: int = 1, **configuration: str) -> dict[str, Any]:
    return {
        "name": name,
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "runOrder": run_order,
        "configuration": configuration,
        "inputArtifacts": [{"name": "SourceOutput"}],
    }


def create(rt: Runtime, name: str, source: dict[str, Any], *deploys: dict[str, Any], **fields: Any) -> None:
    stages = [{"name": "Source", "actions": [source]}, {"name": "Deploy", "actions": list(deploys)}]
    definitions.create_pipeline(rt, as_yaml({"pipeline": {"name": name, "stages": stages, **fields}}))


def run(rt: Runtime, run_jobs: Any, name: str, revision: str | None = None) -> dict[str, Any]:
    execution_id = pipelines.start_pipeline(rt, name, revision=revision)
    run_jobs()
    return views.get_execution(rt, execution_id)


def actions(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["actionName"]: action for stage in execution["stages"] for action in stage["actions"]}


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def versioned_bucket(s3: Any, bucket: str) -> None:
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def test_an_unversioned_source_is_extracted_into_a_web_site(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="web-site")
    etag = s3.put_object(Bucket="sources", Key="site.zip", Body=zip_of(SITE))["ETag"].strip('"')
    deploy = deploy_action(
        BucketName="web-site", Extract="true", ObjectKey="/live/", CannedACL="public-read", CacheControl="max-age=60"
    )
    create(rt, "site", source_action("sources", "site.zip"), deploy)

    execution = run(rt, run_jobs, "site")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    source, deployed = actions(execution)["Source"], actions(execution)["Deploy"]
    assert source["outputVariables"] == {"ETag": etag, "VersionId": ""}
    assert execution["sourceRevisions"] == []  # an unversioned object has no version to fetch again
    artifact = source["outputArtifacts"]["SourceOutput"]
    assert artifact["revision"] == etag
    assert artifact["s3_object"] == {"bucket": "sources", "key": "site.zip", "version_id": "", "etag": etag}
    assert rt.blobs.get_bytes(artifact["key"]) == zip_of(SITE)
    assert deployed["summary"] == "uploaded 6 files to s3://web-site/live/"
    assert keys(s3, "web-site") == sorted(f"live/{name}" for name in SITE)
    assert s3.get_object(Bucket="web-site", Key="live/css/site.css")["Body"].read() == SITE["css/site.css"].encode()
    expected_types = {
        "index.html": "text/html",
        "css/site.css": "text/css",
        "js/app.js": "text/javascript",
        "img/logo.png": "image/png",
        "data/feed.json": "application/json",
        "notes": "application/octet-stream",
    }
    for name, content_type in expected_types.items():
        head = s3.head_object(Bucket="web-site", Key=f"live/{name}")
        assert (head["ContentType"], head["CacheControl"]) == (content_type, "max-age=60"), name
    grants = s3.get_object_acl(Bucket="web-site", Key="live/index.html")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [g["Grantee"] for g in grants]


def test_a_versioned_source_is_deployed_as_a_zip_named_by_its_version(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    versioned_bucket(s3, "sources")
    s3.create_bucket(Bucket="archive")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"v": "1"}))
    latest = s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"v": "2"}))
    deploy = deploy_action(BucketName="archive", Extract="false", ObjectKey="releases/#{SourceVariables.VersionId}.zip")
    create(rt, "archive", source_action("sources"), deploy)

    execution = run(rt, run_jobs, "archive")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    source, deployed = actions(execution)["Source"], actions(execution)["Deploy"]
    version = latest["VersionId"]
    assert source["outputVariables"] == {"ETag": latest["ETag"].strip('"'), "VersionId": version}
    assert source["outputArtifacts"]["SourceOutput"]["revision"] == version
    assert execution["sourceRevisions"] == [{"actionName": "Source", "revisionId": version, "ref": None}]
    assert deployed["resolvedConfiguration"]["ObjectKey"] == f"releases/{version}.zip"
    assert keys(s3, "archive") == [f"releases/{version}.zip"]
    uploaded = s3.get_object(Bucket="archive", Key=f"releases/{version}.zip")
    assert uploaded["ContentType"] == "application/zip"
    assert uploaded["Body"].read() == zip_of({"v": "2"})


def _revision_by_manual_start(rt: Runtime, name: str, version: str) -> str:
    return pipelines.start_pipeline(rt, name, revision=f"Source={version}")


def _revision_by_version_id(rt: Runtime, name: str, version: str) -> str:
    with rt.transaction() as (session, outbox):
        pipeline = definitions.find_pipeline(session, name)
        return pipelines.start_execution(
            session,
            outbox,
            pipeline.id,
            pipeline.version,
            TriggerType.START_PIPELINE_EXECUTION,
            "started with an object version",
            {"Source": {"version_id": version}},
        )


@pytest.mark.parametrize("start", [_revision_by_manual_start, _revision_by_version_id])
def test_a_revision_override_reads_an_older_version(rt: Runtime, s3: Any, run_jobs: Any, start: Any) -> None:
    versioned_bucket(s3, "sources")
    s3.create_bucket(Bucket="web-site")
    older = s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"index.html": "old"}))["VersionId"]
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"index.html": "new"}))
    create(rt, "pinned", source_action("sources"), deploy_action(BucketName="web-site", Extract="true"))

    execution_id = start(rt, "pinned", older)
    run_jobs()

    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    assert actions(execution)["Source"]["outputVariables"]["VersionId"] == older
    assert s3.get_object(Bucket="web-site", Key="index.html")["Body"].read() == b"old"


def test_source_variables_reach_a_later_deploy(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    versioned_bucket(s3, "sources")
    s3.create_bucket(Bucket="web-site")
    version = s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of(SITE))["VersionId"]
    first = deploy_action("Site", BucketName="web-site", Extract="true", ObjectKey="#{SourceVariables.VersionId}")
    second = deploy_action(
        "Bundle",
        run_order=2,
        BucketName="web-site",
        Extract="false",
        ObjectKey="bundles/#{codepipeline.PipelineExecutionId}-#{SourceVariables.ETag}.zip",
    )
    create(rt, "vars", source_action("sources"), first, second)

    execution = run(rt, run_jobs, "vars")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    etag = actions(execution)["Source"]["outputVariables"]["ETag"]
    bundle = f"bundles/{execution['pipelineExecutionId']}-{etag}.zip"
    assert keys(s3, "web-site") == sorted([bundle, *(f"{version}/{name}" for name in SITE)])


def test_a_missing_object_fails_the_source_naming_it(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="web-site")
    create(
        rt,
        "missing",
        source_action("sources", "nothing-here.zip"),
        deploy_action(BucketName="web-site", Extract="true"),
    )

    execution = run(rt, run_jobs, "missing")

    source, deployed = actions(execution)["Source"], actions(execution)["Deploy"]
    assert (source["status"], source["errorCode"]) == ("Failed", "RevisionUnavailable")
    assert "cannot read s3://sources/nothing-here.zip: " in source["summary"]
    assert "(NoSuchKey)" in source["summary"]
    assert deployed["status"] is None  # never started
    assert execution["status"] == "Failed"
    assert "s3://sources/nothing-here.zip" in execution["statusSummary"]
    assert keys(s3, "web-site") == []


def test_a_missing_bucket_or_version_fails_the_source(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    versioned_bucket(s3, "sources")
    s3.create_bucket(Bucket="web-site")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of(SITE))
    create(rt, "no-bucket", source_action("gone-bucket"), deploy_action(BucketName="web-site", Extract="true"))
    create(rt, "no-version", source_action("sources"), deploy_action(BucketName="web-site", Extract="true"))

    no_bucket = actions(run(rt, run_jobs, "no-bucket"))["Source"]
    no_version = actions(run(rt, run_jobs, "no-version", revision="Source=no-such-version"))["Source"]

    assert no_bucket["errorCode"] == "RevisionUnavailable"
    assert no_bucket["summary"].startswith("cannot read s3://gone-bucket/app.zip: ")
    assert "(NoSuchBucket)" in no_bucket["summary"]
    assert no_version["errorCode"] == "RevisionUnavailable"
    assert no_version["summary"].startswith("cannot read s3://sources/app.zip?versionId=no-such-version: ")
    assert keys(s3, "web-site") == []


def test_an_object_that_is_not_a_zip_fails_the_source(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="web-site")
    s3.put_object(Bucket="sources", Key="app.tar", Body=b"not a zip at all")
    create(rt, "not-zip", source_action("sources", "app.tar"), deploy_action(BucketName="web-site", Extract="true"))

    execution = run(rt, run_jobs, "not-zip")

    source = actions(execution)["Source"]
    assert (source["status"], source["errorCode"]) == ("Failed", "JobFailed")
    assert source["summary"] == (
        "s3://sources/app.tar is not a zip file: an S3 source object must be a zip of the source files"
    )
    assert source["outputArtifacts"] == {}


def test_an_entry_that_would_land_outside_fails_the_extracting_deploy(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="web-site")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"index.html": "ok", "../escape.txt": "no"}))
    create(rt, "climbing", source_action("sources"), deploy_action(BucketName="web-site", Extract="true"))

    execution = run(rt, run_jobs, "climbing")

    deployed = actions(execution)["Deploy"]
    assert (deployed["status"], deployed["errorCode"]) == ("Failed", "JobFailed")
    assert deployed["summary"].startswith("cannot extract input artifact SourceOutput: refusing archive entry")
    assert "'../escape.txt'" in deployed["summary"]
    assert keys(s3, "web-site") == []


def test_a_kms_key_encrypts_what_is_deployed(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="vault")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"a.txt": "secret plans"}))
    key_arn = boto3.client("kms", region_name=AWS_REGION).create_key()["KeyMetadata"]["Arn"]
    deploy = deploy_action(BucketName="vault", Extract="true", KMSEncryptionKeyARN=key_arn)
    create(rt, "kms", source_action("sources"), deploy)

    execution = run(rt, run_jobs, "kms")

    assert execution["status"] == "Succeeded", execution["statusSummary"]
    head = s3.head_object(Bucket="vault", Key="a.txt")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["ContentType"]) == (
        "aws:kms",
        key_arn,
        "text/plain",
    )


def test_a_missing_target_bucket_fails_the_deploy(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"a.txt": "a"}))
    deploy = deploy_action(BucketName="no-such-target", Extract="false", ObjectKey="out/app.zip")
    create(rt, "no-target", source_action("sources"), deploy)

    execution = run(rt, run_jobs, "no-target")

    deployed = actions(execution)["Deploy"]
    assert (deployed["status"], deployed["errorCode"]) == ("Failed", "ConfigurationError")
    assert deployed["summary"].startswith("cannot upload s3://no-such-target/out/app.zip: ")
    assert "(NoSuchBucket)" in deployed["summary"]
    assert execution["status"] == "Failed"


def test_values_resolved_at_start_are_checked_before_anything_is_uploaded(rt: Runtime, s3: Any, run_jobs: Any) -> None:
    s3.create_bucket(Bucket="sources")
    s3.create_bucket(Bucket="web-site")
    s3.put_object(Bucket="sources", Key="app.zip", Body=zip_of({"a.txt": "a"}))
    deploy = deploy_action(BucketName="web-site", Extract="#{variables.EXTRACT}", CannedACL="#{variables.ACL}")
    variables = [{"name": "EXTRACT", "defaultValue": "yes"}, {"name": "ACL", "defaultValue": "world-readable"}]
    create(rt, "late", source_action("sources"), deploy, pipelineType="V2", variables=variables)

    execution = run(rt, run_jobs, "late")

    deployed = actions(execution)["Deploy"]
    assert (deployed["status"], deployed["errorCode"]) == ("Failed", "ConfigurationError")
    assert "configuration Extract: must be true or false, not 'yes'" in deployed["summary"]
    assert "configuration CannedACL: 'world-readable' is not a canned ACL" in deployed["summary"]
    assert deployed["resolvedConfiguration"]["Extract"] == "yes"
    assert keys(s3, "web-site") == []


def _only_reading(s3_bucket: str) -> dict[str, str]:
    """Credentials of a new IAM user who may read objects of `s3_bucket` and do nothing else."""
    iam = boto3.client("iam", region_name=AWS_REGION)
    iam.create_user(UserName="reader")
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{s3_bucket}/*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    iam.put_user_policy(UserName="reader", PolicyName="read-sources", PolicyDocument=policy)
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def test_refusals_fail_with_permission_error(
    rt: Runtime, s3: Any, run_jobs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for bucket in ("sources", "closed", "web-site"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="app.zip", Body=zip_of({"a.txt": "a"}))
    create(rt, "denied-deploy", source_action("sources"), deploy_action(BucketName="web-site", Extract="true"))
    create(rt, "denied-source", source_action("closed"), deploy_action(BucketName="web-site", Extract="true"))
    reader = _only_reading("sources")
    for name, value in reader.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    aws.reset()  # Conveyor's clients now sign as the reader, and moto checks what the reader may do

    @set_initial_no_auth_action_count(0)
    def run_as_reader() -> tuple[dict[str, Any], dict[str, Any]]:
        return run(rt, run_jobs, "denied-deploy"), run(rt, run_jobs, "denied-source")

    denied_deploy, denied_source = run_as_reader()

    source, deployed = actions(denied_deploy)["Source"], actions(denied_deploy)["Deploy"]
    assert source["status"] == "Succeeded"
    assert (deployed["status"], deployed["errorCode"]) == ("Failed", "PermissionError")
    assert deployed["summary"] == "cannot upload s3://web-site/a.txt: Access Denied (AccessDenied)"
    refused = actions(denied_source)["Source"]
    assert (refused["status"], refused["errorCode"]) == ("Failed", "PermissionError")
    assert refused["summary"] == "cannot read s3://closed/app.zip: Access Denied (AccessDenied)"
    assert reader["AWS_SECRET_ACCESS_KEY"] not in json.dumps([denied_deploy, denied_source])
    assert keys(s3, "web-site") == ["app.zip"]
