"""Gunicorn settings the Procfile's `web` command loads (`--config python:handlers.serving`).

The web command passes `--reuse-port`: each worker then listens on a socket of its own and the kernel spreads new
connections across them. Without it the workers race to accept from one socket, and long-lived keep-alive
connections (a load balancer's, Slack's) can all land on the worker that woke first, leaving the other idle while
its requests queue. The cost of SO_REUSEPORT is that a second server started on the same port would not fail: it
would quietly take half the connections. `on_starting` restores the old refusal: before any worker binds, it binds
the address the ordinary way, which fails while anything listens there.
"""

from __future__ import annotations

import errno
import socket
from typing import Any


def on_starting(server: Any) -> None:
    for address in server.cfg.address:
        if isinstance(address, tuple):  # (host, port); a unix socket path has no such sharing
            _refuse_if_taken(str(address[0]), int(address[1]))


def _refuse_if_taken(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed server's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SystemExit(f"cannot listen on {host}:{port}: another server is listening there") from None
            raise
