"""The batching engine's state as JSON (a deployment's `fleet` column), with each host's health before it began.

    {"order": [...], "minimum": 1, "healthyAtStart": [...], "targets": {host: TargetStatus},
     "halt": null | {"status", "code", "message"}, "batches": [[...], ...],
     "before": {host: {"instanceHealth": "Healthy", "revision": <revision key> | null}},
     "groupRevision": <revision key> | null}

Pure: `encode` and `decode` are inverses (a unit test holds them to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.deploy.batching import FleetState, HostHealth, InstanceHealth, Outcome
from conveyor.deploy.status import DeploymentErrorCode, DeploymentStatus, TargetStatus


@dataclass(frozen=True)
class Fleet:
    """A deployment's batching state, the hosts' health before it, and the group's revision when it began."""

    state: FleetState
    before: Mapping[str, HostHealth]
    group_revision: str | None


def encode(fleet: Fleet) -> dict[str, Any]:
    state = fleet.state
    halt = state.halt
    return {
        "order": list(state.order),
        "minimum": state.minimum,
        "healthyAtStart": sorted(state.healthy_at_start),
        "targets": {host: status.value for host, status in state.targets.items()},
        "halt": None
        if halt is None
        else {
            "status": halt.status.value,
            "code": halt.error_code.value if halt.error_code else None,
            "message": halt.message,
        },
        "batches": [list(batch) for batch in state.batches],
        "before": {
            host: {"instanceHealth": health.instance.value, "revision": health.revision}
            for host, health in fleet.before.items()
        },
        "groupRevision": fleet.group_revision,
    }


def decode(data: Mapping[str, Any]) -> Fleet:
    halt = data["halt"]
    state = FleetState(
        order=tuple(data["order"]),
        minimum=int(data["minimum"]),
        healthy_at_start=frozenset(data["healthyAtStart"]),
        targets={host: TargetStatus(status) for host, status in data["targets"].items()},
        halt=None
        if halt is None
        else Outcome(
            DeploymentStatus(halt["status"]),
            DeploymentErrorCode(halt["code"]) if halt["code"] else None,
            halt["message"],
        ),
        batches=tuple(tuple(batch) for batch in data["batches"]),
    )
    before = {
        host: HostHealth(InstanceHealth(value["instanceHealth"]), value["revision"])
        for host, value in data["before"].items()
    }
    return Fleet(state, before, data["groupRevision"])
