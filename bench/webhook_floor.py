"""What recording and enqueueing cost a webhook on the Procfile's gunicorn command: the floor under
bench/webhook_ingest.py's ratio.

The bare app (`bench.bare_app`) and four variants of `bench.floor_app` run side by side under the same command
and are measured in turn with the same signed push as webhook_ingest: `parse` verifies the signature and parses the
body; `redis` adds one LPUSH a request; `sqlite` adds one SQLite transaction a request (one INSERT, WAL,
synchronous=NORMAL, writers queued across processes as Conveyor queues them); `both` does the two. Each variant's
ratio is its throughput over the bare app's in the same round; the order of the servers is reversed every other
round. A design that records each delivery durably and enqueues it, one request at a time, can do no better than
`both`; Conveyor batches the two steps over the requests in flight, and does more (matching pipelines, an execution
row, a dispatch row).

Run: .venv/bin/python bench/webhook_floor.py [--seconds 5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import SECRET, BareServer, bare_flask, report
from bench.webhook_ingest import Measured, measure, median_cpu
from conveyor.config import load_settings
from conveyor.devstack import Stack, embedded_redis, stack_environment, wait_for_socket
from conveyor.triggers.github import push_payload

VARIANTS = {"parse": "", "redis": "redis", "sqlite": "sqlite", "both": "sqlite,redis"}


@contextmanager
def servers(root: Path) -> Iterator[dict[str, BareServer]]:
    """The bare app and every variant of the floor app, all running, with a redis-server of their own."""
    settings = load_settings(environ={}, overrides={"data_dir": root / "data"})
    environment = stack_environment(settings, 0, dict(os.environ))
    redis_server = Stack([embedded_redis(settings)], environment, root / "logs")
    redis_server.start()
    try:
        wait_for_socket(settings.embedded_redis_socket)
        with ExitStack() as stack:
            running = {"bare": stack.enter_context(bare_flask())}
            for name, steps in VARIANTS.items():
                floor = bare_flask(
                    "bench.floor_app:app",
                    FLOOR_STEPS=steps,
                    FLOOR_SECRET=SECRET,
                    FLOOR_DATABASE=str(root / f"{name}.db"),
                    FLOOR_REDIS_URL=settings.redis_url,
                )
                running[name] = stack.enter_context(floor)
            yield running
    finally:
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    body = json.dumps(push_payload("bench/ingest", "https://github.com/bench/ingest.git", "a" * 40)).encode()
    results: dict[str, list[Measured]] = {}
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp, servers(Path(tmp)) as running:
        names = list(running)
        for index in range(args.rounds):
            for name in names if index % 2 == 0 else reversed(names):
                server = running[name]
                results.setdefault(name, []).append(measure(server.url, server.session, body, args.seconds, "wrk"))
    ratios = {
        name: statistics.median(m.load.rps / b.load.rps for m, b in zip(results[name], results["bare"], strict=True))
        for name in VARIANTS
    }
    report(
        "webhook_floor",
        {f"{name}_ratio": round(ratio, 3) for name, ratio in ratios.items()},
        rps={name: round(statistics.median(m.load.rps for m in measured), 1) for name, measured in results.items()},
        cpu_ms_per_request={name: median_cpu(measured) for name, measured in results.items()},
        errors={name: sum(m.load.errors for m in measured) for name, measured in results.items()},
        figures_are="medians over the rounds; a ratio: the variant's throughput over the bare app's in the same round",
        variants={name: steps or "verify and parse only" for name, steps in VARIANTS.items()},
        rounds=args.rounds,
    )


if __name__ == "__main__":
    main()
