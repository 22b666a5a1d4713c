"""How fast Slack slash commands are acknowledged, under 50 concurrent senders (Slack gives a command 3 s).

Conveyor runs its Procfile `web` command on the embedded defaults (SQLite, its own redis-server) with a pipeline
registered and a signing secret and a role for the sender configured. Each request is a signed `status web` from a
user with the viewer role: the signature is checked, the command parsed, the role looked up, the command recorded in
the audit log with its job's dispatch in one transaction, the job enqueued, and the ephemeral acknowledgement
answered. (No worker runs: the jobs wait in Redis; what is measured is the acknowledgement.) The baseline, in the
same run with the same load generator and gunicorn settings: a bare Flask endpoint answering the same request with
a fixed acknowledgement. Both servers run throughout and are measured in turn, ABBA, `--rounds` times each: the
figures are the medians of the rounds, so that a shared machine's changes of speed weigh on both alike.

Run: .venv/bin/python bench/slack_ack.py [--seconds 10] [--senders 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import (
    bare_flask,
    conveyor_stack,
    interleaved,
    pipeline_document,
    report,
    web_command,
)
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


def median_quantiles(rounds: list[Result]) -> tuple[float, float]:
    """The median over the rounds of each round's p50, and of each round's p99."""
    return statistics.median(r.p50_ms for r in rounds), statistics.median(r.p99_ms for r in rounds)


def described(result: Result) -> dict[str, float]:
    return {
        "p50_ms": round(result.p50_ms, 1),
        "p99_ms": round(result.p99_ms, 1),
        "acks_per_second": round(result.rps, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each server, in ABBA order")
    parser.add_argument("--generator", choices=["wrk", "python"], default="wrk" if shutil.which("wrk") else "python")
    args = parser.parse_args()
    env = {"CONVEYOR_SLACK_SIGNING_SECRET": SIGNING_SECRET, "CONVEYOR_SLACK_ROLES": f"{TEAM}/*=viewer"}
    with conveyor_stack(("web",), **env) as stack, bare_flask() as bare_server:
        requests.post(f"{stack.url}/api/v1/pipelines", json=pipeline_document("web", "bench/web"), timeout=10)
        conveyor, bare = interleaved(
            args.rounds,
            lambda: measure(stack.url, args.seconds, args.senders, args.generator),
            lambda: measure(bare_server.url, args.seconds, args.senders, args.generator),
        )
        audited = requests.get(f"{stack.url}/api/v1/chatops/commands?limit=1", timeout=10).json()["commands"]
    p50, p99 = median_quantiles(conveyor)
    bare_p50, bare_p99 = median_quantiles(bare)
    report(
        "slack_ack",
        {
            "p50_ms": round(p50, 1),
            "p99_ms": round(p99, 1),
            "bare_p50_ms": round(bare_p50, 1),
            "bare_p99_ms": round(bare_p99, 1),
            "p99_ratio": round(p99 / bare_p99, 2) if bare_p99 else None,
            "acks_per_second": round(statistics.median(r.rps for r in conveyor), 1),
            "bare_acks_per_second": round(statistics.median(r.rps for r in bare), 1),
        },
        target_p99_ms=TARGET_P99_MS,
        met=p99 <= TARGET_P99_MS,
        senders=args.senders,
        rounds=[described(result) for result in conveyor],
        bare_rounds=[described(result) for result in bare],
        figures_are="medians over the rounds; the two servers measured in turn, ABBA, both running throughout",
        conveyor_errors=sum(r.errors for r in conveyor),
        bare_errors=sum(r.errors for r in bare),
        load_generator=args.generator,
        gunicorn=shlex.split(web_command())[1:],
        commands_audited=bool(audited) and audited[0]["status"] == "accepted",
    )


if __name__ == "__main__":
    main()
