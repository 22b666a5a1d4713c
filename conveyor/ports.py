"""Whether something already listens on a TCP address: a server refuses to start there rather than share it."""

from __future__ import annotations

import errno
import socket


def listened_on(host: str, port: int) -> bool:
    """True when binding `host:port` the ordinary way fails because the address is in use (a closed server's
    TIME_WAIT is no owner). Other errors (a host that is not this machine's) are raised as they are."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False
