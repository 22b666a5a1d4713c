"""Blue/green deployments on hosts behind an ELBv2 target group (moto), each host's agent work run in this process:
the events on both sides in order, traffic moved from the originals to the replacements, the Ready wait, TERMINATE,
a rollback, stops, and the requests refused."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from moto import mock_aws
from rq import Queue
from sqlalchemy import select

from conveyor import aws
from conveyor.db.deploy_models import GroupHost
from conveyor.db.models import Dispatch, utcnow
from conveyor.deploy import deployments, registry
from conveyor.deploy.blue_green_waits import continue_deployment, expire_waits
from conveyor.deploy.host_recovery import RETIRE_UNCLAIMED_LIMIT, UNCLAIMED_LIMIT
from conveyor.dispatch import DispatchState, Kind
from conveyor.errors import Conflict, InvalidRequest, SpecError
from conveyor.queues import HOST_JOB_TTL_SECONDS
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs.dispatch import RQInspector
from tests.support.blue_green import (
    ALLOW,
    BLOCK,
    ORIGINALS,
    TRAFFIC_HOOKS,
    blue_green_fleet,
    deploy_to,
    journal,
    labels,
    serving,
)
from tests.support.elb import ElbWorld, elb_world
from tests.support.hosts import IN_PLACE_EVENTS, Fleet, app_revision, events_of, make_fleet

ORIGINAL_IPS = {"10.0.1.11", "10.0.1.12"}
REPLACEMENT_IPS = {"10.0.1.21", "10.0.1.22"}


@pytest.fixture
def world(rt: Runtime, fake_aws_credentials: None) -> Iterator[ElbWorld]:
    with mock_aws():
        made = elb_world(aws.client("ec2", rt.settings), aws.client("elbv2", rt.settings))
        made.listener(80, made.target_group("shop-tg"))
        yield made


def test_replacements_take_the_traffic_and_become_the_group_fleet(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet = blue_green_fleet(rt, tmp_path, world)
    assert serving(world) == ORIGINAL_IPS
    first = deploy_to(rt, app_revision("v1", extra_hooks=TRAFFIC_HOOKS))
    fleet.work()

    done = deployments.get_deployment(rt, first)
    assert done["status"] == "Succeeded", done
    assert labels(done) == {
        "next-01": ("Green", "Succeeded"),
        "next-02": ("Green", "Succeeded"),
        "web-01": ("Blue", "Succeeded"),
        "web-02": ("Blue", "Succeeded"),
    }
    assert [name for name, _ in events_of(done, "next-01")] == [*IN_PLACE_EVENTS, *ALLOW]
    assert events_of(done, "web-01") == [  # nothing of this group was installed on the originals before
        ("BeforeBlockTraffic", "Skipped"),
        ("BlockTraffic", "Succeeded"),
        ("AfterBlockTraffic", "Skipped"),
    ]
    assert journal(fleet, "next-01", first) == [
        "BeforeInstall v1",
        "ApplicationStart v1",
        "BeforeAllowTraffic v1",
        "AfterAllowTraffic v1",
    ]
    assert serving(world) == REPLACEMENT_IPS
    assert done["deploymentStyle"]["deploymentType"] == "BLUE_GREEN"
    assert done["targetInstances"]["tagFilters"][0]["Value"] == "next"
    # the originals were deregistered only once every replacement served
    blue_start = min(e["startTime"] for e in done["targets"][2]["lifecycleEvents"] if e.get("startTime"))
    green_allowed = max(t["lifecycleEvents"][8]["endTime"] for t in done["targets"][:2])
    assert green_allowed <= blue_start
    group = registry.get_deployment_group(rt, "shop", "web")
    assert group["hosts"] == ["next-01", "next-02"]
    assert group["targetRevision"] == done["revision"]

    # the next deployment goes back to the first hosts: their group's original hosts are now next-01 and next-02,
    # whose BlockTraffic hooks run the revision they got from the last successful deployment
    second = deploy_to(rt, app_revision("v2", extra_hooks=TRAFFIC_HOOKS), target_instances=ORIGINALS)
    fleet.work()
    done = deployments.get_deployment(rt, second)
    assert done["status"] == "Succeeded", done
    assert {host: label for host, (label, _) in labels(done).items()} == {
        "next-01": "Blue",
        "next-02": "Blue",
        "web-01": "Green",
        "web-02": "Green",
    }
    assert events_of(done, "next-02") == [(name, "Succeeded") for name in BLOCK]
    assert journal(fleet, "next-02", second) == ["BeforeBlockTraffic v1", "AfterBlockTraffic v1"]
    assert serving(world) == ORIGINAL_IPS
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v2</h1>"
    assert (fleet.site("next-01") / "index.html").read_text() == "<h1>v1</h1>"  # KEEP_ALIVE: left as it was
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["web-01", "web-02"]


def test_replacements_are_batched_by_the_configuration(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet = blue_green_fleet(rt, tmp_path, world, size=2, config="CodeDeployDefault.OneAtATime")
    created = deploy_to(rt, app_revision("v1"))
    fleet.work()
    done = deployments.get_deployment(rt, created)
    assert done["status"] == "Succeeded"
    assert done["batches"] == [["web-01", "web-02"]]  # the last phase: the originals all at once
    green = [t for t in done["targets"] if t["instanceLabel"] == "Green"]
    assert [t["batch"] for t in green] == [1, 2]  # rerouted one at a time


def test_a_ready_deployment_waits_for_continue_before_any_traffic_moves(
    rt: Runtime, tmp_path: Path, world: ElbWorld
) -> None:
    fleet = blue_green_fleet(
        rt, tmp_path, world, deploymentReadyOption={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30}
    )
    created = deploy_to(rt, app_revision("v1"))
    fleet.work()

    ready = deployments.get_deployment(rt, created)
    assert ready["status"] == "Ready"
    assert labels(ready) == {
        "next-01": ("Green", "Ready"),
        "next-02": ("Green", "Ready"),
        "web-01": ("Blue", "Pending"),
        "web-02": ("Blue", "Pending"),
    }
    assert (
        events_of(ready, "next-01")
        == [
            ("ApplicationStop", "Skipped"),  # nothing of the group was installed on it before
            *[(name, "Succeeded") for name in IN_PLACE_EVENTS[1:]],
            *[(name, "Pending") for name in ALLOW],
        ]
    )
    assert ready["deploymentOverview"]["Ready"] == 2
    assert serving(world) == ORIGINAL_IPS  # installed, not yet serving
    assert expire_waits(rt, utcnow() + timedelta(minutes=29)) == []
    with pytest.raises(Conflict, match="only a deployment in its TERMINATION_WAIT can be continued"):
        continue_deployment(rt, created, "TERMINATION_WAIT")

    assert continue_deployment(rt, created)["status"] == "InProgress"
    fleet.work()
    done = deployments.get_deployment(rt, created)
    assert done["status"] == "Succeeded"
    assert serving(world) == REPLACEMENT_IPS
    with pytest.raises(Conflict, match="is Succeeded"):
        continue_deployment(rt, created)


def test_a_ready_deployment_not_continued_in_time_is_stopped(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet = blue_green_fleet(
        rt,
        tmp_path,
        world,
        deploymentReadyOption={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30},
    )
    created = deploy_to(rt, app_revision("v1"), auto_rollback={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    fleet.work()
    assert deployments.get_deployment(rt, created)["status"] == "Ready"

    assert expire_waits(rt, utcnow() + timedelta(minutes=31)) == [created]
    stopped = deployments.get_deployment(rt, created)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "TIMEOUT"
    assert "within 30 minutes" in stopped["errorInformation"]["message"]
    assert "rollbackInfo" not in stopped  # no traffic had moved
    assert {host: status for host, (_, status) in labels(stopped).items()} == dict.fromkeys(
        ["next-01", "next-02", "web-01", "web-02"], "Skipped"
    )
    assert serving(world) == ORIGINAL_IPS
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["web-01", "web-02"]
    assert expire_waits(rt, utcnow() + timedelta(minutes=31)) == []


def test_a_failing_allow_traffic_hook_rolls_back_to_the_originals(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet = blue_green_fleet(rt, tmp_path, world, config="CodeDeployDefault.AllAtOnce")
    first = deploy_to(rt, app_revision("v1", extra_hooks=TRAFFIC_HOOKS))
    fleet.work()
    assert deployments.get_deployment(rt, first)["status"] == "Succeeded"
    failing = TRAFFIC_HOOKS.replace(
        "  AfterAllowTraffic:\n    - location: scripts/journal.sh\n",
        "  AfterAllowTraffic:\n    - location: scripts/journal.sh\n    - location: scripts/refuse.sh\n",
    )
    bad = deploy_to(
        rt,
        app_revision("v2", extra_hooks=failing, extra={"scripts/refuse.sh": "#!/bin/bash\nexit 4\n"}),
        target_instances=ORIGINALS,
        auto_rollback={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    fleet.work_next("web-01")
    fleet.work_next("web-02")  # the Install phase
    fleet.work_next("web-01")
    fleet.work_next("web-02")  # the Reroute phase, whose last hook fails
    failed = deployments.get_deployment(rt, bad)
    assert failed["status"] == "Failed"
    assert events_of(failed, "web-01")[-3:] == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Failed"),
    ]
    assert events_of(failed, "next-01") == [(name, "Skipped") for name in BLOCK]
    assert serving(world) == ORIGINAL_IPS | REPLACEMENT_IPS  # both sides serve until the rollback

    fleet.work()
    rollback = deployments.get_deployment(rt, failed["rollbackInfo"]["rollbackDeploymentId"])
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "Succeeded"), rollback
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == bad
    assert {host: label for host, (label, _) in labels(rollback).items()} == {
        "next-01": "Blue",
        "next-02": "Blue",
        "web-01": "Green",
        "web-02": "Green",
    }
    assert events_of(rollback, "next-01") == [(name, "Succeeded") for name in ALLOW]
    assert events_of(rollback, "web-01") == [(name, "Succeeded") for name in BLOCK]
    # the originals' AllowTraffic hooks are the last successful revision's, the replacements' BlockTraffic hooks
    # the most recent deployment's
    rollback_id = rollback["deploymentId"]
    assert journal(fleet, "next-01", rollback_id) == ["BeforeAllowTraffic v1", "AfterAllowTraffic v1"]
    assert journal(fleet, "web-01", rollback_id) == ["BeforeBlockTraffic v2", "AfterBlockTraffic v2"]
    assert serving(world) == REPLACEMENT_IPS  # next-0N were the originals of the failed deployment
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["next-01", "next-02"]


def _back_to_the_originals(rt: Runtime, tmp_path: Path, world: ElbWorld) -> tuple[Fleet, str, str]:
    """v1 onto the replacements (the originals released once its termination wait is continued), then v2 back onto
    the originals, run until it waits to release next-01 and next-02: the fleet and both deployments' ids."""
    fleet = blue_green_fleet(
        rt,
        tmp_path,
        world,
        terminateBlueInstancesOnDeploymentSuccess={"action": "TERMINATE", "terminationWaitTimeInMinutes": 5},
    )
    first = deploy_to(rt, app_revision("v1"))
    fleet.work()
    continue_deployment(rt, first, "TERMINATION_WAIT")
    fleet.work()  # web-01 and web-02, released, clean up
    second = deploy_to(rt, app_revision("v2"), target_instances=ORIGINALS)
    fleet.work()
    return fleet, first, second


def test_terminate_releases_the_originals_after_the_wait(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet, first, second = _back_to_the_originals(rt, tmp_path, world)

    waiting = deployments.get_deployment(rt, second)
    assert waiting["status"] == "InProgress"
    assert waiting["instanceTerminationWaitTimeStarted"] is True
    assert serving(world) == ORIGINAL_IPS
    assert (fleet.site("next-01") / "index.html").read_text() == "<h1>v1</h1>"
    assert expire_waits(rt, utcnow() + timedelta(minutes=4)) == []

    assert expire_waits(rt, utcnow() + timedelta(minutes=6)) == [second]
    done = deployments.get_deployment(rt, second)
    assert done["status"] == "Succeeded"
    fleet.work()  # the originals' agents remove the group's revision
    assert not (fleet.site("next-01") / "index.html").exists()
    assert not (fleet.site("next-01") / "only-in-v1.html").exists()
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v2</h1>"
    with rt.db.reader() as session:
        standing = sorted(session.scalars(select(GroupHost.host_name)))
    assert standing == ["web-01", "web-02"]
    assert deployments.get_deployment(rt, first)["status"] == "Succeeded"


def test_continue_ends_the_termination_wait_at_once(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    fleet = blue_green_fleet(
        rt,
        tmp_path,
        world,
        terminateBlueInstancesOnDeploymentSuccess={"action": "TERMINATE", "terminationWaitTimeInMinutes": 60},
    )
    created = deploy_to(rt, app_revision("v1"))
    fleet.work()
    with pytest.raises(Conflict, match="only a deployment in its READY_WAIT can be continued"):
        continue_deployment(rt, created)
    assert continue_deployment(rt, created, "TERMINATION_WAIT")["status"] == "Succeeded"


@pytest.mark.parametrize("rollback", [True, False])
def test_a_stop_while_ready_ends_it_with_or_without_rollback(
    rt: Runtime, tmp_path: Path, world: ElbWorld, rollback: bool
) -> None:
    fleet = blue_green_fleet(
        rt, tmp_path, world, deploymentReadyOption={"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 30}
    )
    first = deploy_to(rt, app_revision("v1"))
    fleet.work()
    continue_deployment(rt, first)
    fleet.work()
    second = deploy_to(rt, app_revision("v2"), target_instances=ORIGINALS)
    fleet.work()
    assert deployments.get_deployment(rt, second)["status"] == "Ready"

    deployments.stop_deployment(rt, second, rollback=rollback)
    stopped = deployments.get_deployment(rt, second)
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    if rollback:
        fleet.work()
        again = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
        assert again["status"] == "Succeeded"
        assert events_of(again, "web-01") == [(name, "Succeeded") for name in BLOCK]
    else:
        assert "rollbackInfo" not in stopped
    assert serving(world) == REPLACEMENT_IPS
    assert registry.get_deployment_group(rt, "shop", "web")["hosts"] == ["next-01", "next-02"]


def test_blue_green_requests_that_cannot_be_deployed_are_refused(rt: Runtime, tmp_path: Path, world: ElbWorld) -> None:
    blue_green_fleet(rt, tmp_path, world)
    files = app_revision("v1")
    with pytest.raises(InvalidRequest, match="name the replacement hosts by their tags in targetInstances"):
        deploy_to(rt, files, target_instances=None)
    nobody = {"tagFilters": [{"Key": "Role", "Value": "nobody", "Type": "KEY_AND_VALUE"}]}
    with pytest.raises(InvalidRequest, match="match no registered host"):
        deploy_to(rt, files, target_instances=nobody)
    either = {"tagFilters": [{"Key": "Role", "Type": "KEY_ONLY"}]}
    with pytest.raises(InvalidRequest, match="web-01, web-02: a host cannot be both an original host"):
        deploy_to(rt, files, target_instances=either)
    with pytest.raises(InvalidRequest, match="Conveyor's hosts have no Auto Scaling groups"):
        deploy_to(rt, files, target_instances={"autoScalingGroups": ["asg-1"]})
    with pytest.raises(InvalidRequest, match=r"targetInstances.tagFilters\[0\].Type must be one of"):
        deploy_to(rt, files, target_instances={"tagFilters": [{"Key": "Role", "Type": "SOMETIMES"}]})
    assert deployments.list_deployments(rt, "shop", "web") == []


def test_groups_that_cannot_deploy_blue_green_on_hosts_are_refused(rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    problems = {
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"},
        "blueGreenDeploymentConfiguration": {"greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"}},
    }
    with pytest.raises(SpecError) as refused:
        registry.create_deployment_group(rt, "shop", json.dumps({"deploymentGroupName": "bg", **problems}))
    text = str(refused.value)
    assert "deploymentStyle.deploymentOption" in text
    assert "use WITH_TRAFFIC_CONTROL" in text
    assert "no Auto Scaling groups to copy: use DISCOVER_EXISTING" in text
    wrong_wait = {"deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 9000}}
    with pytest.raises(SpecError, match="9000 is greater than the maximum of 2880"):
        registry.create_deployment_group(
            rt, "shop", json.dumps({"deploymentGroupName": "bg", "blueGreenDeploymentConfiguration": wrong_wait})
        )
    with pytest.raises(InvalidRequest, match="deploys in place: targetInstances names the replacement hosts"):
        deploy_to(rt, app_revision("v1"))


def test_a_released_host_whose_agent_is_gone_is_given_up_and_its_jobs_expire(
    rt: Runtime, tmp_path: Path, world: ElbWorld, caplog: pytest.LogCaptureFixture
) -> None:
    _, _, second = _back_to_the_originals(rt, tmp_path, world)
    continue_deployment(rt, second, "TERMINATION_WAIT")  # next-01 and next-02 are released, and their agents gone
    assert deployments.get_deployment(rt, second)["status"] == "Succeeded"
    pending = (Dispatch.kind == Kind.RETIRE_HOST.value) & (Dispatch.state == DispatchState.PENDING.value)
    with rt.db.reader() as session:
        retirements = list(session.scalars(select(Dispatch).where(pending)))
    assert sorted(d.queue for d in retirements) == ["host-next-01", "host-next-02"]
    for dispatch in retirements:  # waiting in Redis, but not for ever
        [job_id] = Queue(dispatch.queue, connection=rt.redis).get_job_ids()
        assert 0 < rt.redis.ttl(f"rq:job:{job_id}") <= HOST_JOB_TTL_SECONDS
    # a host's work is given up before its job can leave Redis, so the reconciler never sends it again meanwhile
    assert max(UNCLAIMED_LIMIT, RETIRE_UNCLAIMED_LIMIT).total_seconds() < HOST_JOB_TTL_SECONDS

    inspector = RQInspector(rt.redis)  # type: ignore[arg-type]
    assert reconcile(rt, inspector, now=utcnow() + timedelta(minutes=30)).hosts_unreachable == []
    with caplog.at_level(logging.WARNING, logger="conveyor.deploy.host_recovery"):
        report = reconcile(rt, inspector, now=utcnow() + timedelta(minutes=61))
    assert sorted(report.hosts_unreachable) == sorted(d.id for d in retirements)
    assert sum("released host next-0" in r.getMessage() for r in caplog.records) == 2
    with rt.db.reader() as session:
        states = {session.get(Dispatch, d.id).state for d in retirements}  # type: ignore[union-attr]
    assert states == {DispatchState.DONE.value}
    assert deployments.get_deployment(rt, second)["status"] == "Succeeded"  # the deployment itself is untouched
    assert reconcile(rt, inspector, now=utcnow() + timedelta(minutes=62)).hosts_unreachable == []
