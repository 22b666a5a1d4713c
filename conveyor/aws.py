"""The one boto3 client factory: one client per process, service, region and endpoint, made on first use."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

from conveyor.config import Settings

_clients: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)


def client(service: str, settings: Settings, *, region: str | None = None) -> Any:
    """A cached boto3 client for `service` in `region` (default: the configured region and endpoint)."""
    region = region or settings.aws_region
    endpoint = settings.aws_endpoint_url
    key = (service, region, endpoint)
    with _lock:
        if key not in _clients:
            session = boto3.session.Session(region_name=region)
            make: Any = session.client  # one factory for every service: the per-service stubs do not apply
            _clients[key] = make(service, region_name=region, endpoint_url=endpoint or None, config=_CONFIG)
        return _clients[key]


def reset() -> None:
    """Forget every client (after a fork, or between tests)."""
    with _lock:
        _clients.clear()
