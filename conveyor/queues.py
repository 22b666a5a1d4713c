"""The one way to Redis, and the names of Conveyor's queues.

Queues: `pipeline` for short control jobs, `build-<compute type>` for builds (one per compute type, so a machine
runs only the sizes it can), `deploy` for Lambda and ECS deployments (each job waits through its traffic shifts and
hook functions, so it must not hold up short jobs), `default` for everything else (source fetches, notifications),
and `host-<name>` for each registered host, served by that host's agent alone. A job on a host's queue that no
agent takes within `HOST_JOB_TTL_SECONDS` leaves Redis (RQ's `ttl`: queued time only): the host may be gone for
good, and by then the reconciler has given its work up (`conveyor.deploy.host_recovery`).
"""

from __future__ import annotations

import redis

from conveyor.compute import COMPUTE_TYPES, build_queue
from conveyor.config import Settings
from conveyor.errors import ServiceUnavailable

PIPELINE_QUEUE = "pipeline"
DEFAULT_QUEUE = "default"
DEPLOY_QUEUE = "deploy"
HOST_QUEUE_PREFIX = "host-"
HOST_JOB_TTL_SECONDS = 2 * 3600
__all__ = [
    "COMPUTE_TYPES",
    "DEFAULT_QUEUE",
    "DEPLOY_QUEUE",
    "HOST_JOB_TTL_SECONDS",
    "HOST_QUEUE_PREFIX",
    "PIPELINE_QUEUE",
    "build_queue",
    "connect",
    "ping",
    "worker_queues",
]


def worker_queues(settings: Settings) -> list[str]:
    """Every queue a full worker listens on, highest priority first."""
    return [PIPELINE_QUEUE, *(build_queue(c) for c in settings.compute_types), DEFAULT_QUEUE, DEPLOY_QUEUE]


def connect(settings: Settings, timeout: float | None = None) -> redis.Redis:
    """A client for the configured Redis; no connection is made until first use. With `timeout`, a command (and
    a connection) that takes longer fails instead of waiting: for sending work from a request, which must answer
    even when Redis hangs. Without it, commands wait as long as they take (RQ workers set their own timeout)."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=min(timeout, 5) if timeout else 5,
        socket_timeout=timeout,
        health_check_interval=30,
    )


def ping(client: redis.Redis) -> None:
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ServiceUnavailable(f"Redis is unavailable: {exc}") from exc
