"""Signed push deliveries per second through Conveyor's webhook, beside a bare Flask endpoint, same gunicorn.

Conveyor runs its Procfile `web` command (gunicorn, 2 threaded workers) on the embedded defaults; each delivery is
verified, parsed, recorded, matched to a registered pipeline whose execution it creates, and enqueued. The
baseline is a Flask app answering 200 to the same request under the same gunicorn command, measured in the same
run with the same load generator. Both servers run throughout and are measured in turn, ABBA, `--rounds` times each;
the figures are medians of the rounds, the ratio the median of each round's (its two measurements one after the
other), so that a shared machine's changes of speed weigh on both alike. With wrk, each measurement also reads the
CPU time the server's processes spent per request (`context.cpu_ms_per_request`): with the load keeping both cores
busy, the ratio of throughputs follows the ratio of those costs.

Run: .venv/bin/python bench/webhook_ingest.py [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import (
    SECRET,
    bare_flask,
    conveyor_stack,
    interleaved,
    pipeline_document,
    report,
    session_cpu_seconds,
    web_command,
)
from bench.loadgen import LoadResult, WrkResult, run_load, run_wrk
from conveyor.db import Database
from conveyor.db.models import PipelineExecution
from conveyor.devstack import wait_healthy
from conveyor.triggers.github import push_payload, signature

Result = LoadResult | WrkResult


@dataclass(frozen=True)
class Measured:
    load: Result
    cpu_ms_per_request: float | None  # the server's processes, over every request of the run (warm-up included)


def measure(url: str, session: int, body: bytes, seconds: float, generator: str) -> Measured:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature(SECRET.encode(), body),
    }
    if generator != "wrk":  # it counts only the measured window's requests: no CPU per request
        return Measured(run_load(f"{url}/webhooks/github", body, headers, seconds=seconds), None)
    before = session_cpu_seconds({session})
    result = run_wrk(f"{url}/webhooks/github", body, headers, seconds=seconds)
    after = session_cpu_seconds({session})
    answered = result.requests + result.warmup_requests
    if before is None or after is None or not answered:
        return Measured(result, None)
    return Measured(result, (after - before) * 1000 / answered)


def executions_in(database_url: str) -> int:
    database = Database(database_url)
    try:
        with database.reader() as session:
            return session.scalar(select(func.count()).select_from(PipelineExecution)) or 0
    finally:
        database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each server, in ABBA order")
    parser.add_argument("--database-url", help="run Conveyor on this database instead of its embedded SQLite")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    args = parser.parse_args()
    body = json.dumps(push_payload("bench/ingest", "https://github.com/bench/ingest.git", "a" * 40)).encode()
    database = {"CONVEYOR_DATABASE_URL": args.database_url} if args.database_url else {}
    with conveyor_stack(("web",), **database) as stack, bare_flask() as bare_server:
        document = pipeline_document("ingest", "bench/ingest")
        requests.post(f"{stack.url}/api/v1/pipelines", json=document, timeout=10).raise_for_status()
        wait_healthy(stack.url)
        web = stack.stack.processes["web"].pid
        measured_conveyor, measured_bare = interleaved(
            args.rounds,
            lambda: measure(stack.url, web, body, args.seconds, args.generator),
            lambda: measure(bare_server.url, bare_server.session, body, args.seconds, args.generator),
        )
        started = executions_in(args.database_url or stack.settings.database_url)
    publish(args, measured_conveyor, measured_bare, started)


def publish(
    args: argparse.Namespace, measured_conveyor: list[Measured], measured_bare: list[Measured], started: int
) -> None:
    conveyor, bare = [m.load for m in measured_conveyor], [m.load for m in measured_bare]
    ratios = [c.rps / b.rps for c, b in zip(conveyor, bare, strict=True)]
    report(
        "webhook_ingest",
        {
            "conveyor_rps": round(statistics.median(r.rps for r in conveyor), 1),
            "bare_rps": round(statistics.median(r.rps for r in bare), 1),
            "ratio": round(statistics.median(ratios), 3),
            "p99_ms": round(statistics.median(r.p99_ms for r in conveyor), 1),
            "bare_p99_ms": round(statistics.median(r.p99_ms for r in bare), 1),
        },
        target_ratio=0.5,
        rounds=[
            {"conveyor_rps": round(c.rps, 1), "bare_rps": round(b.rps, 1), "ratio": round(c.rps / b.rps, 3)}
            for c, b in zip(conveyor, bare, strict=True)
        ],
        figures_are="medians over the rounds (the ratio: of each round's, its two measurements taken one after the "
        "other); the two servers measured in turn, ABBA, both running throughout",
        cpu_ms_per_request=_cpu_figures(measured_conveyor, measured_bare),
        conveyor_errors=sum(r.errors for r in conveyor),
        bare_errors=sum(r.errors for r in bare),
        load_generator=args.generator,
        gunicorn=shlex.split(web_command())[1:],
        # every delivery measured (warm-up runs add more) must have started its execution: none may have been
        # answered as a redelivery, which costs far less than a delivery
        executions_started=started,
        deliveries_measured=sum(r.requests for r in conveyor),
    )


def _cpu_figures(conveyor: list[Measured], bare: list[Measured]) -> dict[str, Any]:
    return {
        "conveyor": median_cpu(conveyor),
        "bare": median_cpu(bare),
        "rounds": [
            {"conveyor": _rounded(c.cpu_ms_per_request), "bare": _rounded(b.cpu_ms_per_request)}
            for c, b in zip(conveyor, bare, strict=True)
        ],
        "is": "CPU time of each server's gunicorn processes over the requests it answered (warm-up included), the "
        "medians over the rounds: where the ratio of throughputs comes from on a machine the load keeps busy",
    }


def median_cpu(measured: list[Measured]) -> float | None:
    """The median CPU time per request over the measurements that have one (rounded); None if none has."""
    values = [m.cpu_ms_per_request for m in measured if m.cpu_ms_per_request is not None]
    return _rounded(statistics.median(values)) if values else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


if __name__ == "__main__":
    main()
