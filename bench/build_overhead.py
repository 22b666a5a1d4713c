"""What the build engine adds around a buildspec's commands.

A buildspec of 200 trivial commands — the mix real buildspecs are made of: shell builtins (`echo`, `test`, variable
assignments, `cd`) and small programs (`mkdir`, `cp`, `date`, `cat`) — runs through the real build path on the
embedded defaults (SQLite phase records, a local blob store, source download and extraction, one bash, the log and
the artifact upload). The baseline, in the same run: the same 200 commands as one bash script in a fresh directory.
Each side runs several times, interleaved; the medians are compared. `first_command_ms` is the time from the
build job's start to its first command running.

Run: .venv/bin/python bench/build_overhead.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.harness import report
from conveyor.archives import write_zip
from conveyor.build.service import BuildInput, run_build, submit_build
from conveyor.config import load_settings
from conveyor.db.migrate import upgrade
from conveyor.runtime import Runtime

COMMANDS = 200
TEMPLATES = [  # one round of eight; round {n} works in its own directory
    'echo "step {n}"',
    "STEP={n}",
    "mkdir -p out/{n}",
    "test -d out/{n}",
    "cp README out/{n}/",
    "cd out && cd ..",
    "date +%s > out/{n}/stamp",
    "cat out/{n}/stamp > /dev/null",
]


def commands(mark: Path) -> list[str]:
    first = f'printf "%s\\n" "$EPOCHREALTIME" > {mark}'
    return [first] + [TEMPLATES[i % len(TEMPLATES)].format(n=i // len(TEMPLATES)) for i in range(1, COMMANDS)]


def buildspec(lines: list[str]) -> str:
    body = "".join(f"      - {json.dumps(line)}\n" for line in lines)
    return f"version: 0.2\nphases:\n  build:\n    commands:\n{body}artifacts:\n  files:\n    - README\n"


class NoDispatch:
    def send(self, dispatches: list[object]) -> None:
        raise AssertionError("a build run should dispatch nothing")


def conveyor_run(rt: Runtime, source_key: str, mark: Path) -> tuple[float, float]:
    with rt.db.session() as session:
        build = submit_build(
            session, rt.settings, "overhead", initiator="bench", inputs=[BuildInput("src", source_key)]
        )
        build_id = build.id
    started = time.time()
    finished = run_build(rt, build_id, 1)
    elapsed = time.time() - started
    if finished.status != "SUCCEEDED":
        raise RuntimeError(f"the benchmark build ended {finished.status}: {finished.status_reason}")
    return elapsed, (float(mark.read_text()) - started) * 1000


def script_run(root: Path, lines: list[str]) -> float:
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        (Path(scratch) / "README").write_text("readme\n")
        script = Path(scratch) / "build.sh"
        script.write_text("\n".join(lines) + "\n")
        started = time.time()
        subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", str(script)], cwd=scratch, check=True, stdout=subprocess.DEVNULL
        )
        return time.time() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings(environ={}, overrides={"data_dir": root / "data"})
        rt = Runtime(settings, NoDispatch())
        upgrade(rt.db)
        mark = root / "first-command"
        lines = commands(mark)
        source = root / "source"
        source.mkdir()
        (source / "README").write_text("readme\n")
        (source / "buildspec.yml").write_text(buildspec(lines))
        write_zip(root / "source.zip", [(source / "README", "README"), (source / "buildspec.yml", "buildspec.yml")])
        rt.blobs.put_file("sources/overhead.zip", root / "source.zip")
        conveyor_run(rt, "sources/overhead.zip", mark)  # warm: imports, first connection
        script_lines = [f'printf "%s\\n" "$EPOCHREALTIME" > {root / "script-mark"}', *lines[1:]]
        runs, scripts = [], []
        for _ in range(args.runs):  # interleaved, so both sides meet the same machine
            runs.append(conveyor_run(rt, "sources/overhead.zip", mark))
            scripts.append(script_run(root, script_lines))
        rt.db.dispose()
    conveyor_s = statistics.median(r[0] for r in runs)
    script_s = statistics.median(scripts)
    report(
        "build_overhead",
        {
            "conveyor_s": round(conveyor_s, 4),
            "script_s": round(script_s, 4),
            "ratio": round(conveyor_s / script_s, 2),
            "first_command_ms": round(statistics.median(r[1] for r in runs), 1),
        },
        target_ratio=1.3,
        commands=COMMANDS,
        runs=args.runs,
        command_mix=TEMPLATES,
    )


if __name__ == "__main__":
    main()
