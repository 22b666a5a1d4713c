"""The batching state kept as JSON on a deployment comes back as it was, at every step of a deployment."""

from __future__ import annotations

import json

from conveyor.deploy import batching
from conveyor.deploy.batching import HostHealth, InstanceHealth
from conveyor.deploy.fleet_codec import Fleet, decode, encode
from conveyor.deploy.status import DeploymentErrorCode
from tests.support.fleets import HALF_AT_A_TIME


def _round_trip(fleet: Fleet) -> Fleet:
    return decode(json.loads(json.dumps(encode(fleet))))


def test_every_step_of_a_deployment_survives_the_round_trip() -> None:
    before = {
        "a": HostHealth(),
        "b": HostHealth(InstanceHealth.UNHEALTHY, "r1"),
        "c": HostHealth(InstanceHealth.HEALTHY, "r1"),
        "d": HostHealth(InstanceHealth.HEALTHY, "r0"),
    }
    step = batching.begin(before, HALF_AT_A_TIME, "r1")
    seen = 0
    while step.start:
        fleet = Fleet(step.state, before, "r1")
        assert _round_trip(fleet) == fleet
        state = step.state
        for host in step.start:
            state = batching.record(state, host, succeeded=host != "b")
        step = batching.advance(state)
        seen += 1
    assert seen >= 2
    stopped = batching.stop(step.state, DeploymentErrorCode.MANUAL_STOP, "by request")
    assert _round_trip(Fleet(stopped, before, None)).state.halt == stopped.halt
