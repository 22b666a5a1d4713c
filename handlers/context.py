"""The runtime of the app serving the current request."""

from __future__ import annotations

from flask import current_app

from conveyor.runtime import Runtime


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["conveyor"]
    return rt
