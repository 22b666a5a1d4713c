"""Fixtures of the Lambda deployment tests: moto for Lambda and CloudWatch (no function code runs), a real Conveyor
server on a free port, the boto3 `codedeploy` client a hook function would use, and the journal of what Conveyor did
to AWS."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from werkzeug.serving import make_server

from conveyor import aws
from conveyor.config import Settings
from conveyor.runtime import Runtime
from handlers.app import create_app
from tests.conftest import AWS_REGION, settings_for
from tests.support.lambdas import Journal, make_functions


@pytest.fixture
def aws_mock(fake_aws_credentials: None) -> Iterator[None]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        make_functions()
        yield


@pytest.fixture
def settings(tmp_path: Any, database_url: str, redis_client: Any, aws_mock: None, request: Any) -> Settings:
    hook_timeout = getattr(request, "param", 30)
    return settings_for(
        tmp_path, database_url, deploy_interval_unit="seconds", deploy_hook_timeout=hook_timeout, aws_region=AWS_REGION
    )


@pytest.fixture
def server(settings: Settings, rt: Runtime) -> Iterator[str]:
    """A real Conveyor web server on a free port, on the test's settings."""
    app = create_app({field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)
    app.extensions["conveyor"].db.dispose()


@pytest.fixture
def codedeploy(server: str) -> Any:
    """What a hook function's code does: a boto3 codedeploy client, pointed at Conveyor."""
    return boto3.client("codedeploy", region_name=AWS_REGION, endpoint_url=f"{server}/aws/codedeploy")


@pytest.fixture
def journal(rt: Runtime, codedeploy: Any) -> Iterator[Journal]:
    watched = Journal(codedeploy)
    watched.watch(aws.client("lambda", rt.settings))
    yield watched
    watched.join()
