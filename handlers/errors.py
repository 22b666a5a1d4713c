"""Every error leaves the app as JSON with a status code: Conveyor's own errors and Flask's HTTP errors alike."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from conveyor.errors import ConveyorError

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.register_error_handler(ConveyorError, _conveyor_error)
    app.register_error_handler(HTTPException, _http_error)


def _conveyor_error(error: ConveyorError) -> tuple[Response, int]:
    if error.status_code >= 500:
        log.error("request failed: %s", error.message)
    return jsonify(error.to_dict()), error.status_code


def _http_error(error: HTTPException) -> tuple[Response, int]:
    code = error.code or 500
    name = (error.name or "Error").replace(" ", "")
    return jsonify({"error": name, "message": error.description}), code
