"""Webhook received → first buildspec command running, over many pushes with a warm mirror.

Each push is a new commit to a local repository; the buildspec's first command appends the commit id and bash's
EPOCHREALTIME to a file, so the latency is measured where the command runs. Pushes go one at a time (each waits
for its execution to end), so every push meets an idle worker.

Baseline, in the same run: the least any runner must do between a push and a command — a fresh shallow clone of
the same repository and one bash process running the same first command.

Run: .venv/bin/python bench/push_to_build.py [--pushes 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import SECRET, conveyor_stack, percentile, pipeline_document, report
from conveyor.triggers.github import push_payload, signature

BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - printf '%s %s\\n' "$CODEBUILD_RESOLVED_SOURCE_VERSION" "$EPOCHREALTIME" >> {marks}
      - echo built > out.txt
artifacts:
  files: [out.txt]
"""


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo),
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_repository(root: Path, marks: Path) -> Path:
    repo = root / "app"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "buildspec.yml").write_text(BUILDSPEC.format(marks=marks))
    for index in range(50):  # a small but not empty tree
        (repo / "src" / f"module{index}.py").parent.mkdir(exist_ok=True)
        (repo / "src" / f"module{index}.py").write_text(f"VALUE = {index}\n" * 20)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def new_commit(repo: Path, index: int) -> str:
    (repo / "CHANGES").write_text(f"push {index}\n")
    git(repo, "add", "CHANGES")
    git(repo, "commit", "-q", "-m", f"push {index}")
    return git(repo, "rev-parse", "HEAD")


def first_command_time(marks: Path, sha: str, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marks.exists():
            for line in marks.read_text().splitlines():
                commit, _, stamp = line.partition(" ")
                if commit == sha:
                    return float(stamp)
        time.sleep(0.001)
    raise TimeoutError(f"the build of {sha} did not start within {timeout:g} s")


def push(url: str, repo: Path, sha: str) -> tuple[float, str]:
    body = json.dumps(push_payload("bench/app", repo.as_uri(), sha)).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature(SECRET.encode(), body),
    }
    sent = time.time()
    response = requests.post(f"{url}/webhooks/github", data=body, headers=headers, timeout=10)
    response.raise_for_status()
    return sent, response.json()["executionIds"][0]


def wait_final(url: str, execution_id: str) -> str:
    while True:
        status = requests.get(f"{url}/api/v1/executions/{execution_id}", timeout=10).json()["status"]
        if status not in ("InProgress", "Stopping"):
            return str(status)
        time.sleep(0.01)


def baseline(repo: Path, marks: Path, runs: int) -> list[float]:
    command = f"printf '%s %s\\n' baseline \"$EPOCHREALTIME\" >> {marks}"
    timings = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            start = time.time()
            subprocess.run(["git", "clone", "-q", "--depth", "1", repo.as_uri(), f"{scratch}/src"], check=True)
            subprocess.run(["bash", "--noprofile", "--norc", "-c", command], cwd=f"{scratch}/src", check=True)
            stamp = float(marks.read_text().splitlines()[-1].split()[1])
            timings.append((stamp - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=60)
    args = parser.parse_args()
    with conveyor_stack(CONVEYOR_BUILDERS="1") as stack:
        marks = stack.root / "marks.txt"
        repo = make_repository(stack.root, marks)
        document = pipeline_document("bench", "bench/app", repo.as_uri())
        created = requests.post(f"{stack.url}/api/v1/pipelines", json=document, timeout=10)
        created.raise_for_status()
        latencies = []
        statuses = set()
        for index in range(args.pushes + 2):  # the first two warm the mirror and the workers
            sha = new_commit(repo, index)
            sent, execution_id = push(stack.url, repo, sha)
            started = first_command_time(marks, sha)
            statuses.add(wait_final(stack.url, execution_id))
            if index >= 2:
                latencies.append((started - sent) * 1000)
        base = baseline(repo, stack.root / "baseline-marks.txt", 20)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    base_p50 = percentile(base, 50)
    report(
        "push_to_build",
        {
            "p50_ms": round(p50, 1),
            "p95_ms": round(p95, 1),
            "baseline_p50_ms": round(base_p50, 1),
            "ratio_p50_to_baseline": round(p50 / base_p50, 2),
            "pushes": len(latencies),
        },
        target_p50_ms=250,
        execution_statuses=sorted(statuses),
        baseline="fresh shallow git clone of the same repository + one bash running the same first command",
    )


if __name__ == "__main__":
    main()
