"""`conveyor pipeline start` through a server whose answer is lost: the start is sent again with the same
clientRequestToken and the one execution it started is printed, not a second one. Between the CLI and the real app
sits a TCP proxy on loopback that hands the first request over and then drops the connection before the answer."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator

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
    once the server begins to answer, is closed without a byte of the answer; later ones carry both ways."""
    host, port = target.removeprefix("http://").split(":")
    listener = socket.create_server(("127.0.0.1", 0))
    left = [drops]

    def pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):  # already shut down by the other direction
                sink.shutdown(socket.SHUT_RDWR)
            sink.close()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((host, int(port)))
            threading.Thread(target=pipe, args=(client, server), daemon=True).start()
            if left[0] > 0:
                left[0] -= 1
                server.recv(1)  # the server has carried the request out and begun its answer: lose it
                for end in (client, server):  # shut down, not only closed: the piping thread still reads from it
                    end.shutdown(socket.SHUT_RDWR)
                    end.close()
            else:
                threading.Thread(target=pipe, args=(server, client), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


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
