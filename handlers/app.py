"""The web application, wired in one visible place: settings, runtime, blueprints, error handling."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask

from conveyor.config import load_settings
from handlers import (  # noqa: F401 - some add routes to api.bp
    api,
    codedeploy,
    codepipeline,
    control,
    deploy,
    deployments,
    errors,
    github,
    health,
    notifications,
    queues,
    schedules,
    slack,
    webhook_deliveries,
)
from handlers.bodies import WholeBodyRequest
from jobs.runtime import make_runtime, prepare

MAX_WEBHOOK_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
# No request waits on a hung Redis for longer: each would hold one of the server's few threads, and enough of them
# (log views, build stops) would leave none for webhooks. Above the longest wait for new log lines (5 s) a
# followed log makes.
REDIS_TIMEOUT_SECONDS = 10.0


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `test_config` holds setting overrides (`database_url`, `data_dir`, …)."""
    settings = load_settings(overrides=test_config)
    app = Flask("conveyor")
    app.request_class = WholeBodyRequest
    app.config["MAX_CONTENT_LENGTH"] = MAX_WEBHOOK_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    prepare(settings)
    app.extensions["conveyor"] = make_runtime(settings, redis_timeout=REDIS_TIMEOUT_SECONDS)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(github.bp)
    app.register_blueprint(slack.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(codepipeline.bp)
    app.register_blueprint(codedeploy.bp)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app
