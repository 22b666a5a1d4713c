"""What the deploy engine adds around a deployment's hook scripts, per host and lifecycle event.

A bundle whose appspec copies a small site and runs a no-op script (`exit 0`) in each of the four scriptable
in-place events is deployed to 20 simulated hosts, first with CodeDeployDefault.OneAtATime, then with AllAtOnce. Both
groups deploy to the same hosts, so the files one group installed are overwritten by the other (`fileExistsBehavior`
OVERWRITE). Each host is a root directory served by this process's agent code (`jobs.deploy.serve_host`), its queue
worked by one RQ SimpleWorker listening on every host queue — the hosts take turns, so both configurations measure
the engine's work, not parallelism. Everything is real: SQLite, the blob store, Redis (its own redis-server), the
batching state machine under row locks, the agent's download, unpacking, Install and hook runs.

Baseline, in the same run: on each host, what the deployment itself must do — unpack the bundle, copy the site into
place and run the four scripts with bash. `overhead_ms_per_host_event` = (deployment time - baseline time) /
(hosts * 7 lifecycle events), from the median times over the rounds, for the slower configuration.

Run: .venv/bin/python bench/deploy_fleet.py [--hosts 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from rq import Queue, SimpleWorker

from bench.harness import report
from bench.pipeline_throughput import embedded_redis_server
from conveyor.config import load_settings
from conveyor.db.migrate import upgrade
from conveyor.deploy import deployments, registry, revisions
from conveyor.devstack import stack_environment
from conveyor.queues import HOST_QUEUE_PREFIX
from conveyor.runtime import Runtime
from jobs.deploy import serve_host
from jobs.runtime import make_runtime, use_runtime

EVENTS_PER_HOST = (
    7  # ApplicationStop, DownloadBundle, BeforeInstall, Install, AfterInstall, ApplicationStart, ValidateService
)
HOOKS = ("ApplicationStop", "BeforeInstall", "ApplicationStart", "ValidateService")
SITE_FILES = 20


def bundle() -> bytes:
    hooks = "".join(f"  {event}:\n    - location: scripts/noop.sh\n" for event in HOOKS)
    files = {
        "appspec.yml": f"version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /srv/app\nhooks:\n{hooks}",
        "scripts/noop.sh": "#!/bin/bash\nexit 0\n",
        **{f"site/page-{n}.html": f"<p>{n}</p>\n" for n in range(SITE_FILES)},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((0o755 if name.endswith(".sh") else 0o644) | 0o100000) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def deploy_once(rt: object, group: str, revision: dict[str, object], queues: list[Queue]) -> float:
    """One deployment to every host, worked to its end; its wall time in seconds."""
    started = time.perf_counter()
    created = deployments.create_deployment(
        rt, deployments.DeploymentRequest("bench", group, revision, file_exists_behavior="OVERWRITE")
    )  # type: ignore[arg-type]
    SimpleWorker(queues, connection=queues[0].connection).work(burst=True, logging_level="WARNING")
    elapsed = time.perf_counter() - started
    final = deployments.get_deployment(rt, created["deploymentId"])  # type: ignore[arg-type]
    if final["status"] != "Succeeded":
        raise RuntimeError(
            f"deployment {created['deploymentId']} ended {final['status']}: {final.get('errorInformation')}"
        )
    return elapsed


def baseline_once(data: bytes, scratch: Path, hosts: int) -> float:
    """What each host must do without an engine: unpack, copy the site, run the four scripts."""
    started = time.perf_counter()
    for host in range(hosts):
        place = scratch / f"host-{host}"
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(place / "archive")
        shutil.copytree(place / "archive" / "site", place / "srv" / "app", dirs_exist_ok=True)
        script = place / "archive" / "scripts" / "noop.sh"
        script.chmod(0o755)
        for _ in HOOKS:
            subprocess.run([str(script)], check=True, cwd=place / "archive", env={"PATH": os.environ["PATH"]})
    elapsed = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        root = Path(tmp)
        settings = load_settings(environ={}, overrides={"data_dir": root / "data"})
        env = stack_environment(settings, 0, {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")})
        with embedded_redis_server(settings, env, root / "logs"):
            rt = make_runtime(settings)
            use_runtime(rt)
            upgrade(rt.db)
            queues = set_up_fleet(rt, root / "hosts", args.hosts)
            data = bundle()
            revision = revisions.store_bundle(rt, data, "zip")
            deploy_once(rt, "one", revision, queues)  # warm: caches, first install on every host
            one, every, baseline = [], [], []
            for round_ in range(args.rounds):
                one.append(deploy_once(rt, "one", revision, queues))
                every.append(deploy_once(rt, "all", revision, queues))
                baseline.append(baseline_once(data, root / f"baseline-{round_}", args.hosts))
    publish(args, one, every, baseline)


def set_up_fleet(rt: Runtime, hosts_dir: Path, hosts: int) -> list[Queue]:
    """An application with a OneAtATime and an AllAtOnce group over `hosts` registered hosts tagged Role=web, each
    served from a directory of its own; returns the hosts' queues."""
    registry.create_application(rt, "bench")
    tags = [{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}]
    for group, config in (("one", "CodeDeployDefault.OneAtATime"), ("all", "CodeDeployDefault.AllAtOnce")):
        definition = {"deploymentGroupName": group, "deploymentConfigName": config}
        registry.create_deployment_group(rt, "bench", json.dumps({**definition, "onPremisesInstanceTagFilters": tags}))
    names = [f"host-{n:02d}" for n in range(1, hosts + 1)]
    for name in names:
        registry.register_host(rt, name, {"Role": "web"})
        (hosts_dir / name).mkdir(parents=True)
        serve_host(name, hosts_dir / name)
    return [Queue(HOST_QUEUE_PREFIX + name, connection=rt.redis) for name in names]


def publish(args: argparse.Namespace, one: list[float], every: list[float], baseline: list[float]) -> None:
    host_events = args.hosts * EVENTS_PER_HOST
    base = statistics.median(baseline)
    per_event = {  # the slower configuration counts
        name: (statistics.median(times) - base) / host_events * 1000 for name, times in (("one", one), ("all", every))
    }
    report(
        "deploy_fleet",
        {
            "overhead_ms_per_host_event": round(max(per_event.values()), 2),
            "one_at_a_time_s": round(statistics.median(one), 3),
            "all_at_once_s": round(statistics.median(every), 3),
            "baseline_s": round(base, 3),
            "ratio_to_baseline": round(statistics.median(one) / base, 2),
        },
        target_overhead_ms_per_host_event=20,
        overhead_ms_per_host_event_by_config={k: round(v, 2) for k, v in per_event.items()},
        hosts=args.hosts,
        host_events=host_events,
        rounds=args.rounds,
        hooks="four no-op scripts (exit 0), a site of 20 small files",
        workers="one RQ SimpleWorker on every host queue in the bench process (the hosts take turns)",
    )


if __name__ == "__main__":
    main()
