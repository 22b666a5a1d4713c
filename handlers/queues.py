"""`GET /api/v1/queues` (the API blueprint, and so its token check): the work on each queue and the workers that take
it, with a warning for a queue whose work no worker takes."""

from __future__ import annotations

from flask import Response, jsonify

from conveyor.backlog import queues_overview
from conveyor.errors import ServiceUnavailable
from handlers.api import bp
from handlers.context import runtime
from jobs.dispatch import RQInspector


@bp.get("/queues")
def list_queues() -> Response:
    rt = runtime()
    if rt.redis is None:
        raise ServiceUnavailable("this server has no Redis to ask about its queues")
    return jsonify({"queues": queues_overview(rt, RQInspector(rt.redis))})
