"""Hosts for deployment tests: each a root directory and an RQ queue worked in this process, as its agent would."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rq import Queue, SimpleWorker

from conveyor.deploy import deployments, registry, revisions
from conveyor.queues import HOST_QUEUE_PREFIX
from conveyor.runtime import Runtime
from jobs.deploy import serve_host

IN_PLACE_EVENTS = [
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
]


@dataclass
class Fleet:
    """Hosts registered with tag Role=web, each served by this process with its own root directory."""

    rt: Runtime
    roots: dict[str, Path]

    def work(self, rounds: int = 200) -> None:
        """Work the hosts' queues, one after the other, until every one is empty."""
        for _ in range(rounds):
            queues = [Queue(HOST_QUEUE_PREFIX + name, connection=self.rt.redis) for name in self.roots]
            busy = [q for q in queues if q.count]
            if not busy:
                return
            for queue in busy:
                SimpleWorker([queue], connection=self.rt.redis).work(burst=True, logging_level="WARNING")
        raise AssertionError("the hosts' queues never emptied")

    def work_next(self, host: str) -> None:
        """Run one host's next job only (to see what a deployment left before the work it started runs)."""
        queue = Queue(HOST_QUEUE_PREFIX + host, connection=self.rt.redis)
        SimpleWorker([queue], connection=self.rt.redis).work(burst=True, max_jobs=1, logging_level="WARNING")

    def site(self, host: str) -> Path:
        return self.roots[host] / "var" / "www" / "shop"


def make_fleet(
    rt: Runtime, tmp_path: Path, count: int, config: str = "CodeDeployDefault.OneAtATime", **group: Any
) -> Fleet:
    """An application `shop` with a group `web` over `count` hosts web-01, web-02, …"""
    registry.create_application(rt, "shop")
    definition = {
        "deploymentGroupName": "web",
        "deploymentConfigName": config,
        "onPremisesInstanceTagFilters": [{"Key": "Role", "Value": "web", "Type": "KEY_AND_VALUE"}],
        **group,
    }
    registry.create_deployment_group(rt, "shop", json.dumps(definition))
    roots = {}
    for index in range(1, count + 1):
        name = f"web-{index:02d}"
        registry.register_host(rt, name, {"Role": "web"})
        roots[name] = tmp_path / "hosts" / name
        roots[name].mkdir(parents=True)
        serve_host(name, roots[name])
    return Fleet(rt, roots)


def app_revision(
    version: str, *, validate: str = "exit 0", extra_hooks: str = "", extra: dict[str, str] | None = None
) -> dict[str, str]:
    """A revision's files: a site, and scripts that append `<event> <version>` to a journal on the host."""
    script = (
        '#!/bin/bash\necho "$LIFECYCLE_EVENT {v} $DEPLOYMENT_ID" >> "$(dirname "$0")/../../../../../../../journal"\n'
    )
    journal = script.format(v=version)
    files = {
        "appspec.yml": (
            "version: 0.0\nos: linux\nfiles:\n  - source: site\n    destination: /var/www/shop\n"
            "hooks:\n"
            "  ApplicationStop:\n    - location: scripts/journal.sh\n"
            "  BeforeInstall:\n    - location: scripts/journal.sh\n"
            "  ApplicationStart:\n    - location: scripts/journal.sh\n"
            "  ValidateService:\n    - location: scripts/validate.sh\n      timeout: 30\n" + extra_hooks
        ),
        "site/index.html": f"<h1>{version}</h1>",
        f"site/only-in-{version}.html": version,
        "scripts/journal.sh": journal,
        "scripts/validate.sh": f"#!/bin/bash\n{validate}\n",
        **(extra or {}),
    }
    return files


def zip_bytes(files: dict[str, str], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o755 if name.endswith(".sh") else 0o644) | 0o100000) << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def deploy(rt: Runtime, files: dict[str, str], **options: Any) -> dict[str, Any]:
    """Upload a zip bundle of `files` and create a deployment of it to shop/web."""
    revision = revisions.store_bundle(rt, zip_bytes(files), "zip")
    request = deployments.DeploymentRequest("shop", "web", revision, **options)
    return deployments.create_deployment(rt, request)


def events_of(deployment: dict[str, Any], host: str) -> list[tuple[str, str]]:
    target = next(t for t in deployment["targets"] if t["targetId"] == host)
    return [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]]
