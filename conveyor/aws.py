"""The one boto3 client factory: one client per process, service, region, endpoint and role, made on first use.

An action that names a `roleArn` gets clients signed with that role's temporary credentials (STS AssumeRole),
refreshed a few minutes before they expire; one without uses the process's own credentials.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from conveyor.config import Settings

_clients: dict[tuple[str, str, str, str], tuple[Any, datetime | None]] = {}
_lock = threading.Lock()
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)
_REFRESH_BEFORE = timedelta(minutes=5)
SESSION_NAME = "conveyor"


def client(service: str, settings: Settings, *, region: str | None = None, role_arn: str | None = None) -> Any:
    """A cached boto3 client for `service` in `region` (default: the configured one), as `role_arn` if given."""
    region = region or settings.aws_region
    endpoint = settings.aws_endpoint_url
    key = (service, region, endpoint, role_arn or "")
    with _lock:
        cached = _clients.get(key)
        if cached is not None and (cached[1] is None or cached[1] - _REFRESH_BEFORE > datetime.now(UTC)):
            return cached[0]
    credentials: dict[str, Any] = {}
    expires: datetime | None = None
    if role_arn:
        assumed = client("sts", settings, region=region).assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)
        given = assumed["Credentials"]
        credentials = {
            "aws_access_key_id": given["AccessKeyId"],
            "aws_secret_access_key": given["SecretAccessKey"],
            "aws_session_token": given["SessionToken"],
        }
        expires = given["Expiration"]
    session = boto3.session.Session(region_name=region, **credentials)
    make: Any = session.client  # one factory for every service: the per-service stubs do not apply
    made = make(service, region_name=region, endpoint_url=endpoint or None, config=_CONFIG)
    with _lock:
        _clients[key] = (made, expires)
    return made


def reset() -> None:
    """Forget every client (after a fork, or between tests)."""
    with _lock:
        _clients.clear()
