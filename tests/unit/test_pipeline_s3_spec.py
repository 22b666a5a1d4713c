"""S3 source and deploy actions in definitions: what is refused when a pipeline is saved, at which path and line, and
how the deploy target and content types are derived (`conveyor.pipeline.s3_configuration`, `actions.s3_deploy`)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.pipeline.actions.s3_deploy import content_type
from conveyor.pipeline.s3_configuration import deploy_problems, deploy_target
from conveyor.pipeline.spec import parse_pipeline
from tests.unit.test_pipeline_spec import as_yaml, line_of, problem_at, problems

DEPLOY = "pipeline.stages[1].actions[0]"
SOURCE = "pipeline.stages[0].actions[0]"


def s3_source(**configuration: str) -> dict[str, Any]:
    return {
        "name": "Fetch",
        "actionTypeId": {"category": "Source", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"S3Bucket": "app-sources", "S3ObjectKey": "app.zip", **configuration},
        "outputArtifacts": [{"name": "SourceOutput"}],
        "namespace": "SourceVariables",
    }


def s3_deploy(**configuration: Any) -> dict[str, Any]:
    return {
        "name": "Publish",
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "S3", "version": "1"},
        "configuration": {"BucketName": "web-site", **configuration},
        "inputArtifacts": [{"name": "SourceOutput"}],
    }


def document(source: dict[str, Any], *deploys: dict[str, Any], **fields: Any) -> dict[str, Any]:
    stages = [{"name": "Source", "actions": [source]}, {"name": "Deploy", "actions": list(deploys)}]
    return {"name": "demo", "stages": stages, **fields}


def test_s3_sources_and_deploys_parse() -> None:
    text = as_yaml(
        document(
            s3_source(PollForSourceChanges="False"),
            s3_deploy(Extract="true"),
            {**s3_deploy(Extract="FALSE", ObjectKey="out/#{SourceVariables.VersionId}.zip"), "name": "Archive"},
            {**s3_deploy(Extract="true", CannedACL="public-read", CacheControl="no-cache"), "name": "Site"},
        )
    )

    definition = parse_pipeline(text)

    assert [a.type_id.provider for s in definition.stages for a in s.actions] == ["S3", "S3", "S3", "S3"]
    assert definition.stage("Deploy").action("Archive").configuration["Extract"] == "FALSE"


def test_a_yaml_boolean_extract_is_stored_as_aws_stores_it() -> None:
    definition = parse_pipeline(as_yaml(document(s3_source(), s3_deploy(Extract=True))))

    assert definition.stage("Deploy").action("Publish").configuration["Extract"] == "true"


@pytest.mark.parametrize(
    ("configuration", "key", "fragment"),
    [
        ({"Extract": "yes"}, "Extract", "must be true or false, not 'yes'"),
        ({"Extract": "true", "CannedACL": "world-readable"}, "CannedACL", "'world-readable' is not a canned ACL"),
        ({"Extract": "false", "ObjectKey": "releases/"}, "ObjectKey", "ends with '/'"),
        ({"Extract": "false", "ObjectKey": " "}, "ObjectKey", "is empty"),
        ({"Extract": "true", "KMSEncryptionKeyARN": ""}, "KMSEncryptionKeyARN", "is empty"),
        ({"Extract": "true", "DeploymentPath": "site"}, "DeploymentPath", "unknown configuration key for provider S3"),
    ],
)
def test_a_bad_deploy_value_is_reported_at_its_key_and_line(
    configuration: dict[str, str], key: str, fragment: str
) -> None:
    text = as_yaml(document(s3_source(), s3_deploy(**configuration)))

    problem = problem_at(problems(text), f"{DEPLOY}.configuration.{key}")

    assert fragment in problem.message
    assert problem.line == line_of(text, f" {key}:")


def test_a_bucket_url_instead_of_a_name_is_refused_on_both_actions() -> None:
    source = s3_source(S3Bucket="s3://app-sources")
    deploy = s3_deploy(BucketName="web-site/live", Extract="true")

    found = problems(as_yaml(document(source, deploy)))

    assert "not a URL or a path" in problem_at(found, f"{SOURCE}.configuration.S3Bucket").message
    message = problem_at(found, f"{DEPLOY}.configuration.BucketName").message
    assert message == (
        "'web-site/live' is not a bucket name: give the bucket's name alone, not a URL or a path; "
        "the key prefix goes in ObjectKey"
    )


def test_object_key_is_required_only_when_the_zip_is_not_extracted() -> None:
    text = as_yaml(document(s3_source(), s3_deploy(Extract="false")))

    problem = problem_at(problems(text), f"{DEPLOY}.configuration")

    assert "missing configuration key 'ObjectKey'" in problem.message
    assert "with Extract false" in problem.message
    parse_pipeline(as_yaml(document(s3_source(), s3_deploy(Extract="true"))))


def test_required_keys_and_artifact_counts_of_the_s3_providers() -> None:
    source = s3_source()
    del source["configuration"]["S3ObjectKey"]
    deploy = s3_deploy()  # no Extract
    deploy["outputArtifacts"] = [{"name": "Nothing"}]

    found = problems(as_yaml(document(source, deploy)))

    assert "missing required configuration key 'S3ObjectKey'" in problem_at(found, f"{SOURCE}.configuration").message
    assert "missing required configuration key 'Extract'" in problem_at(found, f"{DEPLOY}.configuration").message
    assert "takes exactly 0 outputArtifacts, not 1" in problem_at(found, f"{DEPLOY}.outputArtifacts").message


def test_the_source_checks_its_own_values() -> None:
    found = problems(as_yaml(document(s3_source(S3ObjectKey="  ", PollForSourceChanges="sometimes"), s3_deploy())))

    assert "must name the object" in problem_at(found, f"{SOURCE}.configuration.S3ObjectKey").message
    poll = problem_at(found, f"{SOURCE}.configuration.PollForSourceChanges")
    assert poll.message == "must be true or false, not 'sometimes'"


def test_values_made_of_references_wait_for_the_start() -> None:
    deploy = s3_deploy(Extract="#{variables.EXTRACT}", CannedACL="#{variables.ACL}")
    variables = [{"name": "EXTRACT", "defaultValue": "maybe"}, {"name": "ACL", "defaultValue": "nonsense"}]

    definition = parse_pipeline(as_yaml(document(s3_source(), deploy, variables=variables)))

    configuration = definition.stage("Deploy").action("Publish").configuration
    assert deploy_problems(configuration, unresolved={"Extract", "CannedACL"}) == []
    assert [key for key, _ in deploy_problems({**configuration, "Extract": "maybe", "CannedACL": "nonsense"})] == [
        "Extract",
        "CannedACL",
    ]


def test_references_to_s3_output_variables_are_checked() -> None:
    wrong_key = s3_deploy(Extract="false", ObjectKey="#{SourceVariables.CommitId}.zip")
    from_deploy = {**s3_deploy(Extract="false", ObjectKey="#{Published.Location}"), "name": "Later", "runOrder": 2}
    first = {**s3_deploy(Extract="true"), "namespace": "Published"}
    text = as_yaml(document(s3_source(), first, {**wrong_key, "name": "Wrong"}, from_deploy))

    found = problems(text)

    wrong = problem_at(found, "pipeline.stages[1].actions[1].configuration.ObjectKey")
    assert wrong.message == "#{SourceVariables.CommitId}: S3 actions output ETag, VersionId"
    later = problem_at(found, "pipeline.stages[1].actions[2].configuration.ObjectKey")
    assert later.message == "#{Published.Location}: S3 actions output no variables"


def test_every_problem_of_one_definition_is_reported_at_once() -> None:
    deploys = [
        {**s3_deploy(Extract="no"), "name": "A"},
        {**s3_deploy(Extract="false"), "name": "B"},
        {**s3_deploy(Extract="true", CannedACL="log-delivery-write"), "name": "C"},
    ]
    found = problems(as_yaml(document(s3_source(S3Bucket="a"), *deploys)))

    assert sorted(p.path for p in found) == [
        f"{SOURCE}.configuration.S3Bucket",
        "pipeline.stages[1].actions[0].configuration.Extract",
        "pipeline.stages[1].actions[1].configuration",
        "pipeline.stages[1].actions[2].configuration.CannedACL",
    ]


def test_the_deploy_target_of_a_configuration() -> None:
    site = deploy_target(
        {"BucketName": "b", "Extract": "True", "ObjectKey": "/live/site/", "KMSEncryptionKeyARN": "k", "CannedACL": "x"}
    )
    root = deploy_target({"BucketName": "b", "Extract": "true"})
    archive = deploy_target({"BucketName": "b", "Extract": "false", "ObjectKey": "/a/b.zip", "CacheControl": "c"})

    assert (site.extract, site.key_for("css/a.css")) == (True, "live/site/css/a.css")
    assert site.put_arguments("text/css") == {
        "ContentType": "text/css",
        "ACL": "x",
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "k",
    }
    assert root.key_for("index.html") == "index.html"
    assert (archive.extract, archive.object_key) == (False, "/a/b.zip")  # an object's key is kept as written
    assert archive.put_arguments("application/zip") == {"ContentType": "application/zip", "CacheControl": "c"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("index.html", "text/html"),
        ("INDEX.HTM", "text/html"),
        ("a/b/site.css", "text/css"),
        ("app.js", "text/javascript"),
        ("module.mjs", "text/javascript"),
        ("app.js.map", "application/json"),
        ("font.woff2", "font/woff2"),
        ("photo.webp", "image/webp"),
        ("logo.svg", "image/svg+xml"),
        ("robots.txt", "text/plain"),
        ("release.tar.gz", "application/gzip"),
        ("dump.sql.bz2", "application/x-bzip2"),
        ("bundle.zip", "application/zip"),
        ("Makefile", "application/octet-stream"),
        ("data.unknown-suffix", "application/octet-stream"),
    ],
)
def test_content_types_are_guessed_from_names(name: str, expected: str) -> None:
    assert content_type(name) == expected
