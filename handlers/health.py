"""`GET /healthz`: SQL and Redis both answer, or 503 saying which does not."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from conveyor.errors import ServiceUnavailable
from conveyor.queues import ping
from handlers.context import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    checks: dict[str, str] = {}
    for name, check in (("database", rt.db.ping), ("redis", lambda: ping(rt.redis) if rt.redis else None)):
        try:
            check()
            checks[name] = "ok"
        except ServiceUnavailable as exc:
            checks[name] = exc.message
        except Exception as exc:  # noqa: BLE001 - a health check reports any failure as text
            checks[name] = f"unavailable: {type(exc).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if healthy else "unavailable", "checks": checks}), 200 if healthy else 503
