"""How fast Slack slash commands are acknowledged, under 50 concurrent senders (Slack gives a command 3 s).

Conveyor runs its Procfile `web` command on the embedded defaults (SQLite, its own redis-server) with a pipeline
registered and a signing secret and a role for the sender configured. Each request is a signed `status web` from a
user with the viewer role: the signature is checked, the command parsed, the role looked up, the command recorded in
the audit log with its job's dispatch in one transaction, the job enqueued, and the ephemeral acknowledgement
answered. (No worker runs: the jobs wait in Redis; what is measured is the acknowledgement.) The baseline, in the
same run with the same load generator and gunicorn settings: a bare Flask endpoint answering the same request with
a fixed acknowledgement.

Run: .venv/bin/python bench/slack_ack.py [--seconds 10] [--senders 50]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import bare_flask, conveyor_stack, percentile, pipeline_document, report, web_command
from bench.loadgen import LoadResult, WrkResult, run_load, run_wrk
from conveyor.chatops.signature import sign
from tests.support.slack import slash_form

SIGNING_SECRET = "bench-signing-secret"
TEAM, USER = "T0BENCH", "U0BENCH"
TARGET_P99_MS = 100.0

Result = LoadResult | WrkResult


def measure(url: str, seconds: float, senders: int, generator: str) -> Result:
    body = slash_form("status web", USER, "http://127.0.0.1:9/response-url", team=TEAM)
    timestamp = str(int(time.time()))  # valid for five minutes: longer than the run
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": sign(SIGNING_SECRET, timestamp, body),
    }
    if generator == "wrk":
        return run_wrk(f"{url}/chatops/slack", body, headers, seconds=seconds, connections=senders)
    return run_load(f"{url}/chatops/slack", body, headers, seconds=seconds, processes=2, threads=senders // 2)


def quantiles(result: Result) -> tuple[float, float]:
    if isinstance(result, WrkResult):
        return result.p50_ms, result.p99_ms
    return percentile(result.latencies_ms, 50), percentile(result.latencies_ms, 99)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    env = {"CONVEYOR_SLACK_SIGNING_SECRET": SIGNING_SECRET, "CONVEYOR_SLACK_ROLES": f"{TEAM}/*=viewer"}
    with conveyor_stack(("web",), **env) as stack:
        requests.post(f"{stack.url}/api/v1/pipelines", json=pipeline_document("web", "bench/web"), timeout=10)
        conveyor = measure(stack.url, args.seconds, args.senders, args.generator)
        audited = requests.get(f"{stack.url}/api/v1/chatops/commands?limit=1", timeout=10).json()["commands"]
    with bare_flask() as url:
        bare = measure(url, args.seconds, args.senders, args.generator)
    p50, p99 = quantiles(conveyor)
    bare_p50, bare_p99 = quantiles(bare)
    report(
        "slack_ack",
        {
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "bare_p50_ms": round(bare_p50, 1),
            "bare_p99_ms": round(bare_p99, 1),
            "p99_ratio": round(p99 / bare_p99, 2) if bare_p99 else None,
            "acks_per_second": round(conveyor.rps, 1),
            "bare_acks_per_second": round(bare.rps, 1),
        },
        target_p99_ms=TARGET_P99_MS,
        met=p99 <= TARGET_P99_MS,
        senders=args.senders,
        conveyor_errors=conveyor.errors,
        bare_errors=bare.errors,
        load_generator=args.generator,
        gunicorn=shlex.split(web_command())[1:],
        commands_audited=bool(audited) and audited[0]["status"] == "accepted",
    )


if __name__ == "__main__":
    main()
