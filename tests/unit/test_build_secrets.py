"""Secret variables: parsed from the buildspec, resolved from SSM and Secrets Manager (moto), hidden in the log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from conveyor import aws
from conveyor.blobs import LocalBlobStore
from conveyor.build.log import BuildLog
from conveyor.build.runner import BuildRequest, BuildRunner, InputArtifact
from conveyor.build.secrets import AwsSecrets, Masker, SecretError, resolve
from conveyor.build.spec import SecretReference, parse_buildspec
from conveyor.build.status import BuildStatus
from conveyor.config import load_settings
from conveyor.errors import SpecError
from tests.unit.test_build_runner import Recorder, source_zip

TOKEN = "tok-3f9a1c77e2"
PASSWORD = "pw-0a8b-secret-77"
SECRET_JSON = json.dumps({"username": "deploy", "password": PASSWORD})


@pytest.fixture
def aws_stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsSecrets]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    aws.reset()
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        ssm.put_parameter(Name="/ci/token", Value=TOKEN, Type="SecureString")
        manager = boto3.client("secretsmanager", region_name="us-east-1")
        manager.create_secret(Name="deploy/creds", SecretString=SECRET_JSON)
        manager.create_secret(Name="deploy/plain", SecretString="plain-value-123")
        yield AwsSecrets(load_settings(environ={}, overrides={"aws_region": "us-east-1"}))
    aws.reset()


def test_references_are_parsed_with_arns_keys_and_versions() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy/creds-AbCdEf"
    spec = parse_buildspec(
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\n  secrets-manager:\n"
        f"    USER: {arn}:username\n    OLD: deploy/creds:password:AWSPREVIOUS\n    PINNED: deploy/creds:::v-123\n"
    )
    assert spec.secrets == (
        SecretReference("TOKEN", "parameter-store", "/ci/token"),
        SecretReference("USER", "secrets-manager", arn, "username"),
        SecretReference("OLD", "secrets-manager", "deploy/creds", "password", "AWSPREVIOUS"),
        SecretReference("PINNED", "secrets-manager", "deploy/creds", None, None, "v-123"),
    )


def test_reference_problems_are_reported_with_their_lines() -> None:
    text = (
        "version: 0.2\nenv:\n  variables:\n    TOKEN: plain\n  parameter-store:\n    TOKEN: /ci/token\n"
        "    EMPTY: ''\n  secrets-manager:\n    BOTH: deploy/creds:password:AWSCURRENT:v-1\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_buildspec(text)
    found = {(p.path, p.line) for p in caught.value.problems}
    assert found == {
        ("env.parameter-store.TOKEN", 6),
        ("env.parameter-store.EMPTY", 7),
        ("env.secrets-manager.BOTH", 9),
    }


def test_values_resolve_from_ssm_and_secrets_manager(aws_stores: AwsSecrets) -> None:
    references = parse_buildspec(
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\n  secrets-manager:\n"
        "    PASSWORD: deploy/creds:password\n    WHOLE: deploy/plain\n"
    ).secrets
    assert resolve(references, aws_stores) == {"TOKEN": TOKEN, "PASSWORD": PASSWORD, "WHOLE": "plain-value-123"}


def test_a_missing_parameter_or_key_is_named_without_any_value(aws_stores: AwsSecrets) -> None:
    with pytest.raises(SecretError) as missing:
        resolve((SecretReference("TOKEN", "parameter-store", "/ci/absent"),), aws_stores)
    assert "TOKEN: cannot read parameter /ci/absent: ParameterNotFound" in missing.value.message
    with pytest.raises(SecretError) as no_key:
        resolve((SecretReference("USER", "secrets-manager", "deploy/creds", "email"),), aws_stores)
    assert no_key.value.message == "USER: secret deploy/creds has no JSON key 'email'"
    assert PASSWORD not in no_key.value.message


def test_the_masker_hides_values_lines_of_values_and_access_key_ids() -> None:
    masker = Masker()
    masker.add("s3cr3t-value")
    masker.add("-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----")
    text = "a s3cr3t-value b MIIEvQIBADANBg c AKIAIOSFODNN7EXAMPLE d s3cr3t"
    assert masker(text) == "a *** b *** c *** d s3cr3t"


def test_a_value_split_across_output_chunks_is_still_hidden(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("split-secret-42")
    log = BuildLog(tmp_path / "build.log", mask=masker)
    for chunk in (b"before split-se", b"cret-42 after\nnext line split-secret", b"-42\n"):
        log.output(chunk)
    log.close()
    assert (tmp_path / "build.log").read_text() == "before *** after\nnext line ***\n"


def test_a_build_sees_its_secrets_and_its_log_does_not(tmp_path: Path, aws_stores: AwsSecrets) -> None:
    buildspec = (
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/token\n  secrets-manager:\n"
        "    PASSWORD: deploy/creds:password\nphases:\n  build:\n    commands:\n"
        f'      - test "$TOKEN" = {TOKEN}\n      - echo "token is $TOKEN and password is $PASSWORD"\n'
    )
    result, log = _run(tmp_path, buildspec, aws_stores)
    assert result.status is BuildStatus.SUCCEEDED
    assert "token is *** and password is ***" in log
    assert TOKEN not in log
    assert PASSWORD not in log


def test_a_secret_that_cannot_be_read_fails_the_build_before_any_command(
    tmp_path: Path, aws_stores: AwsSecrets
) -> None:
    buildspec = (
        "version: 0.2\nenv:\n  parameter-store:\n    TOKEN: /ci/absent\nphases:\n  build:\n"
        "    commands:\n      - echo never\n"
    )
    result, log = _run(tmp_path, buildspec, aws_stores)
    assert result.status is BuildStatus.FAILED
    assert "SECRETS_ERROR" in log
    assert "TOKEN: cannot read parameter /ci/absent" in log
    assert "Running command" not in log


def _run(tmp_path: Path, buildspec: str, secrets: AwsSecrets) -> tuple[object, str]:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blobs.put_file("inputs/source.zip", source_zip(tmp_path, {"buildspec.yml": buildspec}))
    request = BuildRequest(
        build_id="demo:1",
        project_name="demo",
        workspace=tmp_path / "workspace",
        inputs=(InputArtifact("Source", "inputs/source.zip"),),
        environment={},
        timeout_seconds=30,
    )
    log = BuildLog(tmp_path / "build.log")
    try:
        result = BuildRunner(request, blobs, Recorder(), log, secrets=secrets).run()
    finally:
        log.close()
    return result, (tmp_path / "build.log").read_text()
