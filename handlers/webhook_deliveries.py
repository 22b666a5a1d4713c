"""The webhook deliveries Conveyor received, under `/api/v1` (the API blueprint, and so its token check): newest
first, filtered by repository or outcome, or one by its `X-GitHub-Delivery` id."""

from __future__ import annotations

from flask import Response, jsonify, request

from conveyor.triggers import deliveries
from handlers.api import bp, limit_arg, next_token_arg, paged
from handlers.context import runtime


@bp.get("/webhook-deliveries")
def list_webhook_deliveries() -> Response:
    """`?repository=owner/name`, `?outcome=started|ignored|deferred|failed`, `?limit=` (default 50), `?nextToken=`."""
    args = request.args
    page = deliveries.page_of_deliveries(
        runtime(), args.get("repository"), args.get("outcome"), limit_arg(50), next_token_arg()
    )
    return paged("deliveries", page)


@bp.get("/webhook-deliveries/<delivery_id>")
def get_webhook_delivery(delivery_id: str) -> Response:
    return jsonify(deliveries.get_delivery(runtime(), delivery_id))
