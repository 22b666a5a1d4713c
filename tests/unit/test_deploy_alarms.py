"""The alarm decision: which states stop a deployment, and how poll failures count with ignorePollAlarmFailure."""

from __future__ import annotations

import pytest

from conveyor.deploy.alarms import (
    GO_ON,
    AlarmConfiguration,
    AlarmPoll,
    AlarmState,
    decide_alarms,
)
from conveyor.deploy.status import DeploymentErrorCode
from conveyor.errors import InvalidRequest

WATCHED = AlarmConfiguration(enabled=True, alarms=("errors", "latency"))


def poll(**states: str) -> AlarmPoll:
    return AlarmPoll({name: AlarmState(name, state, f"{name} says {state}") for name, state in states.items()})


def test_ok_and_insufficient_data_go_on() -> None:
    assert decide_alarms(WATCHED, poll(errors="OK", latency="INSUFFICIENT_DATA")) == GO_ON


def test_an_alarm_in_alarm_stops_naming_it_with_its_reason() -> None:
    decision = decide_alarms(WATCHED, poll(errors="OK", latency="ALARM"))
    assert (decision.stop, decision.poll_failed) == (True, False)
    assert decision.error_code is DeploymentErrorCode.ALARM_ACTIVE
    assert decision.firing == ("latency",)
    assert decision.reason == "alarm in ALARM state: latency (latency says ALARM)"


def test_every_firing_alarm_is_named_in_configuration_order() -> None:
    decision = decide_alarms(WATCHED, poll(latency="ALARM", errors="ALARM"))
    assert decision.firing == ("errors", "latency")
    assert decision.reason.startswith("alarms in ALARM state: errors (errors says ALARM); latency")


@pytest.mark.parametrize(
    "config",
    [
        AlarmConfiguration(enabled=False, alarms=("errors",)),
        AlarmConfiguration(enabled=True, alarms=()),
    ],
    ids=["disabled", "no-alarms"],
)
def test_an_unwatched_configuration_goes_on_whatever_the_states(config: AlarmConfiguration) -> None:
    assert decide_alarms(config, poll(errors="ALARM")) == GO_ON
    assert decide_alarms(config, AlarmPoll(failure="unreachable")) == GO_ON


def test_a_failed_poll_stops_unless_ignored() -> None:
    decision = decide_alarms(WATCHED, AlarmPoll(failure="CloudWatch describe_alarms failed: Throttling: slow down"))
    assert (decision.stop, decision.poll_failed) == (True, True)
    assert decision.error_code is DeploymentErrorCode.ALARM_ACTIVE
    assert "could not be read: CloudWatch describe_alarms failed: Throttling: slow down" in decision.reason
    ignoring = AlarmConfiguration(True, True, WATCHED.alarms)
    assert decide_alarms(ignoring, AlarmPoll(failure="unreachable")) == GO_ON


def test_an_alarm_cloudwatch_does_not_know_is_a_poll_failure() -> None:
    decision = decide_alarms(WATCHED, poll(errors="OK"))
    assert decision.poll_failed
    assert "CloudWatch has no alarm named latency" in decision.reason
    assert decide_alarms(AlarmConfiguration(True, True, WATCHED.alarms), poll(errors="OK")) == GO_ON


def test_a_firing_alarm_stops_even_when_poll_failures_are_ignored() -> None:
    decision = decide_alarms(AlarmConfiguration(True, True, WATCHED.alarms), poll(errors="ALARM"))
    assert (decision.stop, decision.firing, decision.poll_failed) == (True, ("errors",), False)


def test_the_configuration_is_read_from_the_group() -> None:
    group = {
        "alarmConfiguration": {
            "enabled": True,
            "ignorePollAlarmFailure": True,
            "alarms": [{"name": "errors"}, {"name": "latency"}, {"name": "errors"}],
        }
    }
    assert AlarmConfiguration.from_group(group) == AlarmConfiguration(True, True, ("errors", "latency"))
    assert AlarmConfiguration.from_group({}) == AlarmConfiguration()
    assert not AlarmConfiguration.from_group({}).watched


def test_more_than_ten_alarms_are_refused() -> None:
    group = {"alarmConfiguration": {"enabled": True, "alarms": [{"name": f"a{i}"} for i in range(11)]}}
    with pytest.raises(InvalidRequest, match=r"alarmConfiguration.alarms: at most 10 alarms, not 11"):
        AlarmConfiguration.from_group(group)
