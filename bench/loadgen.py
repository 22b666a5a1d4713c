"""A small closed-loop HTTP load generator: several processes, each with a few threads, one request at a time per
thread, a new connection per request (gunicorn's sync workers close after each response)."""

from __future__ import annotations

import http.client
import multiprocessing
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

from bench.harness import percentile


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)


def _post(host: str | None, port: int | None, path: str, body: bytes, headers: dict[str, str]) -> bool:
    """One delivery, with an id of its own, on a new connection; True if it was answered without an error."""
    sent = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
    try:
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.request("POST", path, body=body, headers=sent)
        response = connection.getresponse()
        response.read()
        connection.close()
    except OSError:
        return False
    return response.status < 400


def _client_process(
    url: str,
    body: bytes,
    headers: dict[str, str],
    threads: int,
    start: float,
    stop: float,
    queue: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    parsed = urlparse(url)
    latencies: list[tuple[float, float]] = []  # (start time, milliseconds)
    errors = 0
    lock = threading.Lock()

    def loop() -> None:
        nonlocal errors
        while time.time() < start:
            time.sleep(0.001)
        while True:
            began = time.time()
            if began >= stop:
                return
            ok = _post(parsed.hostname, parsed.port, parsed.path, body, headers)
            with lock:
                if ok:
                    latencies.append((began, (time.time() - began) * 1000))
                else:
                    errors += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, errors))


def run_load(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    seconds: float,
    processes: int = 2,
    threads: int = 8,
    warmup: float = 1.0,
) -> LoadResult:
    """Send requests for `seconds` after `warmup` seconds; count only what completes in the measured window."""
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    start = time.time() + 0.5
    stop = start + warmup + seconds
    children = [
        context.Process(target=_client_process, args=(url, body, headers, threads, start, stop, queue))
        for _ in range(processes)
    ]
    for child in children:
        child.start()
    results = [queue.get() for _ in children]
    for child in children:
        child.join()
    window_start = start + warmup
    measured = [ms for result in results for began, ms in result[0] if began >= window_start]
    errors = sum(result[1] for result in results)
    return LoadResult(len(measured), errors, seconds, measured)


WRK_SCRIPT = """
local counter = 0
local created = 0
function setup(thread)
  created = created + 1
  thread:set("tid", created)
end
function init(args)
  -- args[1]: an id of this wrk run, fresh for each (wrk's math.random starts from the same seed every run, so
  -- deliveries numbered from it would repeat those of the run before and be answered as redeliveries)
  prefix = string.format("%s-%d-", args[1], tid)
end
request = function()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. counter
  return wrk.format(nil, nil, nil, nil)
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
    + summary.errors.timeout
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests, errors, summary.duration / 1e6,
    latency:percentile(99) / 1000, latency:percentile(50) / 1000))
end
"""


@dataclass
class WrkResult:
    requests: int
    errors: int
    seconds: float
    p99_ms: float
    p50_ms: float = 0.0
    warmup_requests: int = 0  # answered in the warm-up run before the measured one

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int = 16,
    threads: int = 2,
    warmup: float = 1.0,
) -> WrkResult:
    """The same closed loop with wrk, which leaves the server more of the CPU than a Python client does."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise FileNotFoundError("wrk")
    with tempfile.TemporaryDirectory() as scratch:
        script = f"{scratch}/delivery.lua"
        body_path = f"{scratch}/body"
        with open(body_path, "wb") as handle:
            handle.write(body)
        header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
        base = [wrk, "-t", str(threads), "-c", str(connections), "-s", script, *header_args]
        lua_body = f'wrk.method = "POST"; wrk.body = io.open("{body_path}", "rb"):read("*a")\n'
        with open(script, "w") as handle:
            handle.write(lua_body + WRK_SCRIPT)
        warm = [*base, "-d", f"{max(1, round(warmup))}s", url, "--", uuid.uuid4().hex]
        warmed = _wrk_result(subprocess.run(warm, capture_output=True, check=True, text=True).stdout)
        measured = [*base, "-d", f"{max(1, round(seconds))}s", url, "--", uuid.uuid4().hex]
        result = _wrk_result(subprocess.run(measured, capture_output=True, check=True, text=True).stdout)
    result.warmup_requests = warmed.requests
    return result


def _wrk_result(output: str) -> WrkResult:
    line = next(row for row in output.splitlines() if row.startswith("RESULT "))
    requests, errors, duration, p99, p50 = line.split()[1:]
    return WrkResult(int(requests), int(errors), float(duration), float(p99), float(p50))
