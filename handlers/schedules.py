"""Cron schedules under `/api/v1/schedules`: save, read, pause, resume, run now, and the history of firings.

They share the API blueprint (and so its token check). A schedule is JSON in the shape `conveyor.schedules.spec`
describes; an invalid one is a 400 listing every problem with its path.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from conveyor.errors import InvalidRequest
from conveyor.schedules import firing, registry
from handlers.api import bp, json_body
from handlers.context import runtime


@bp.post("/schedules")
def create_schedule() -> tuple[Response, int]:
    return jsonify(registry.create_schedule(runtime(), json_body())), 201


@bp.get("/schedules")
def list_schedules() -> Response:
    return jsonify({"schedules": registry.list_schedules(runtime())})


@bp.get("/schedules/<name>")
def get_schedule(name: str) -> Response:
    """The schedule with its next fire times (`?count=`, default 5)."""
    return jsonify(registry.get_schedule(runtime(), name, _number("count", 5, 100)))


@bp.put("/schedules/<name>")
def update_schedule(name: str) -> Response:
    """Replace the definition; `state`, when given, pauses or resumes it."""
    return jsonify(registry.update_schedule(runtime(), name, json_body()))


@bp.delete("/schedules/<name>")
def delete_schedule(name: str) -> tuple[str, int]:
    registry.delete_schedule(runtime(), name)
    return "", 204


@bp.post("/schedules/<name>/pause")
def pause_schedule(name: str) -> Response:
    return jsonify(registry.pause_schedule(runtime(), name))


@bp.post("/schedules/<name>/resume")
def resume_schedule(name: str) -> Response:
    return jsonify(registry.resume_schedule(runtime(), name))


@bp.post("/schedules/<name>/run")
def run_schedule(name: str) -> tuple[Response, int]:
    """Run now: the target starts at once; 409 with the reason when it cannot."""
    return jsonify(firing.run_now(runtime(), name)), 202


@bp.get("/schedules/<name>/history")
def schedule_history(name: str) -> Response:
    """Firings, newest first (`?limit=`, default 20), each with the status of what it started."""
    return jsonify({"firings": firing.history(runtime(), name, _number("limit", 20, 1000))})


def _number(key: str, default: int, most: int) -> int:
    raw = request.args.get(key, str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise InvalidRequest(f"'{key}' must be a whole number from 1 to {most}")
    return int(raw)
