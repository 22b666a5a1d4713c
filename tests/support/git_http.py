"""A git server over HTTP on 127.0.0.1 that asks for a password: git's own `http-backend` (smart HTTP) behind Basic
authentication, as a private repository on GitHub is served. It records the credentials each request carried."""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class GitServer:
    """Serves the repositories under `root` at `url`/<path below root>; only `username`:`password` may read."""

    root: Path
    username: str
    password: str
    url: str = ""
    credentials_seen: list[tuple[str, str] | None] = field(default_factory=list)  # per request, None: none sent
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def repository_url(self, path: str) -> str:
        return f"{self.url}/{path}"

    def allows(self, authorization: str | None) -> bool:
        sent = _basic(authorization)
        with self._lock:
            self.credentials_seen.append(sent)
        return sent == (self.username, self.password)


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization.startswith("Basic "):
        return None
    user, _, password = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
    return user, password


@contextmanager
def git_http_server(root: Path, username: str, password: str) -> Iterator[GitServer]:
    server_state = GitServer(root, username, password)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            if not server_state.allows(self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path, _, query = self.path.partition("?")
            environment = {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "GIT_PROJECT_ROOT": str(server_state.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": server_state.username,
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            }
            result = subprocess.run(
                ["git", "http-backend"], input=body, capture_output=True, env=environment, check=False
            )
            head, _, payload = result.stdout.partition(b"\r\n\r\n")
            status = 200
            headers: list[tuple[str, str]] = []
            for line in head.decode().split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
