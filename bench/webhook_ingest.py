"""Signed push deliveries per second through Conveyor's webhook, beside a bare Flask endpoint, same gunicorn.

Conveyor runs its Procfile `web` command (gunicorn, 2 sync workers) on the embedded defaults; each delivery is
verified, parsed, recorded, matched to a registered pipeline whose execution it creates, and enqueued. The
baseline is a Flask app answering 200 to the same request under the same gunicorn command, measured in the same
run with the same load generator.

Run: .venv/bin/python bench/webhook_ingest.py [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import SECRET, bare_flask, conveyor_stack, percentile, pipeline_document, report, web_command
from bench.loadgen import LoadResult, WrkResult, run_load, run_wrk
from conveyor.devstack import wait_healthy
from conveyor.triggers.github import push_payload, signature

Result = LoadResult | WrkResult


def measure(url: str, body: bytes, seconds: float, generator: str) -> Result:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-Hub-Signature-256": signature(SECRET.encode(), body),
    }
    if generator == "wrk":
        return run_wrk(f"{url}/webhooks/github", body, headers, seconds=seconds)
    return run_load(f"{url}/webhooks/github", body, headers, seconds=seconds)


def p99(result: Result) -> float:
    return result.p99_ms if isinstance(result, WrkResult) else percentile(result.latencies_ms, 99)


def bare_result(body: bytes, seconds: float, generator: str) -> Result:
    with bare_flask() as url:
        return measure(url, body, seconds, generator)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--database-url", help="run Conveyor on this database instead of its embedded SQLite")
    parser.add_argument(
        "--generator",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator (default: wrk when installed)",
    )
    args = parser.parse_args()
    body = json.dumps(push_payload("bench/ingest", "https://github.com/bench/ingest.git", "a" * 40)).encode()
    with conveyor_stack(
        ("web",), **({"CONVEYOR_DATABASE_URL": args.database_url} if args.database_url else {})
    ) as stack:
        document = pipeline_document("ingest", "bench/ingest")
        requests.post(f"{stack.url}/api/v1/pipelines", json=document, timeout=10).raise_for_status()
        wait_healthy(stack.url)
        conveyor = measure(stack.url, body, args.seconds, args.generator)
        started = requests.get(f"{stack.url}/api/v1/executions?limit=1", timeout=10).json()["executions"]
    bare = bare_result(body, args.seconds, args.generator)
    report(
        "webhook_ingest",
        {
            "conveyor_rps": round(conveyor.rps, 1),
            "bare_rps": round(bare.rps, 1),
            "ratio": round(conveyor.rps / bare.rps, 3),
            "p99_ms": round(p99(conveyor), 1),
            "bare_p99_ms": round(p99(bare), 1),
        },
        target_ratio=0.5,
        conveyor_errors=conveyor.errors,
        bare_errors=bare.errors,
        load_generator=args.generator,
        gunicorn=shlex.split(web_command())[1:],
        executions_created=bool(started),
    )


if __name__ == "__main__":
    main()
