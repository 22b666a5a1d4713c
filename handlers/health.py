"""`GET /healthz`: SQL and Redis both answer, or 503 saying which does not.

A Redis that accepts connections and never answers (hung, paused, out of memory in a swap storm) is told within
`REDIS_CHECK_SECONDS`: the check pings on a client of its own with that timeout, so the load balancer asking gets
its 503 in time, and the request does not hold a server thread for as long as Redis hangs.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from conveyor.errors import ServiceUnavailable
from conveyor.queues import connect, ping
from conveyor.runtime import Runtime
from handlers.context import runtime

bp = Blueprint("health", __name__)
REDIS_CHECK_SECONDS = 2.0


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    checks: dict[str, str] = {}
    for name, check in (("database", rt.db.ping), ("redis", lambda: _ping_redis(rt))):
        try:
            check()
            checks[name] = "ok"
        except ServiceUnavailable as exc:
            checks[name] = exc.message
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure as text
            checks[name] = f"unavailable: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "unavailable", "checks": checks}), 200 if healthy else 503


def _ping_redis(rt: Runtime) -> None:
    if rt.redis is None:  # a runtime without Redis (some tests) has nothing to check
        return
    client = connect(rt.settings, timeout=REDIS_CHECK_SECONDS)
    try:
        ping(client)
    finally:
        client.close()
