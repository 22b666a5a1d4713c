"""A WSGI app that answers with what garbage collection sees in the worker serving it: the objects frozen out of
collection, and the objects still collected, as two numbers."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = f"{gc.get_freeze_count()} {len(gc.get_objects())}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
