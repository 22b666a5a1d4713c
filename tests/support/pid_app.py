"""A WSGI app that says which gunicorn worker served a request: its process id; at `/heap`, what garbage collection
sees in that worker instead (the objects frozen out of collection, and those still collected, as two numbers)."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from typing import Any


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/heap":
        body = f"{gc.get_freeze_count()} {len(gc.get_objects())}".encode()
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
