"""`conveyor pipeline start` through a server whose answer is lost: the start is sent again with the same
clientRequestToken and the one execution it started is printed, not a second one. Between the CLI and the real app
sits a TCP proxy on loopback that hands the first request over and then drops the connection before the answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from click.testing import CliRunner

from conveyor.cli import main
from conveyor.config import Settings
from conveyor.pipeline import definitions, views
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline


@contextlib.contextmanager
def answer_dropping_proxy(target: str, drops: int) -> Iterator[str]:
    """A proxy to `target` (http://host:port): each of its first `drops` connections carries the request over and,
    once the server begins to answer, is closed without a byte of the answer; later ones carry both ways. Each
    connection is served by threads of their own, and every socket may be closed from either side: the accepting
    loop never stops on a connection's error. On leaving, every socket is closed and every thread joined, so none
    outlives the test (a later test may count the threads of its process)."""
    host, port = target.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))
    sockets: list[socket.socket] = [listener]
    threads: list[threading.Thread] = []

    def start(target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        threads.append(thread)
        thread.start()

    def close(*ends: socket.socket) -> None:
        for end in ends:  # shut down, not only closed: another thread may be reading from it
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                end.close()

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        close(sink)

    def carry(client: socket.socket, drop: bool) -> None:
        server = socket.create_connection((host, int(port)))
        sockets.append(server)
        start(pipe, client, server)
        if drop:
            with contextlib.suppress(OSError):
                server.recv(1)  # the server has carried the request out and begun its answer: lose it
            close(client, server)
        else:
            pipe(server, client)

    def serve() -> None:
        dropped = 0
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            sockets.append(client)
            start(carry, client, dropped < drops)
            dropped += 1

    start(serve)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        close(*sockets)
        while any(thread.is_alive() for thread in threads):  # a thread may start another while it ends
            for thread in list(threads):
                thread.join(5)


def test_a_start_whose_answer_was_lost_is_sent_again_and_starts_once(
    settings: Settings, rt: Runtime, repo: GitRepo, server_url: str
) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("flaky", repo.url)))

    with answer_dropping_proxy(server_url, drops=1) as proxy:
        result = CliRunner().invoke(
            main,
            ["--server", proxy, "pipeline", "start", "flaky", "-o", "json"],
            env=settings_environment(settings),
            catch_exceptions=False,
        )

    assert result.exit_code == 0, result.output
    started = [e["pipelineExecutionId"] for e in views.list_executions(rt, "flaky")]
    assert len(started) == 1  # the first request did start it; the second found it by its token
    assert json.loads(result.output) == {"pipelineExecutionId": started[0]}
