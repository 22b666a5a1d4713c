"""Which lifecycle events an AppSpec may hook on each platform, and the AppSpec readers' purity."""

from __future__ import annotations

import pytest

from conveyor.deploy.appspec_events import (
    ECS_HOOK_EVENTS,
    HOOK_EVENTS,
    HOST_HOOK_EVENTS,
    LAMBDA_HOOK_EVENTS,
    RESERVED_EVENTS,
    ComputePlatform,
    hook_event_problem,
)
from tests.unit.test_import_contract import IMPURE, ROOT, check, reachable_project_files


@pytest.mark.parametrize("platform", list(ComputePlatform))
def test_every_hook_event_of_a_platform_is_accepted_and_none_is_also_reserved(platform: ComputePlatform) -> None:
    assert all(hook_event_problem(event, platform) is None for event in HOOK_EVENTS[platform])
    assert not set(HOOK_EVENTS[platform]) & set(RESERVED_EVENTS[platform])


def test_the_hook_events_are_those_of_the_spec() -> None:
    assert set(HOST_HOOK_EVENTS) == {
        "ApplicationStop",
        "BeforeInstall",
        "AfterInstall",
        "ApplicationStart",
        "ValidateService",
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    }
    assert LAMBDA_HOOK_EVENTS == ("BeforeAllowTraffic", "AfterAllowTraffic")
    assert ECS_HOOK_EVENTS == (
        "BeforeInstall",
        "AfterInstall",
        "AfterAllowTestTraffic",
        "BeforeAllowTraffic",
        "AfterAllowTraffic",
    )


@pytest.mark.parametrize(
    ("event", "platform", "start"),
    [
        ("Install", ComputePlatform.SERVER, "Install is run by CodeDeploy itself"),
        ("DownloadBundle", ComputePlatform.SERVER, "DownloadBundle is run by CodeDeploy itself"),
        ("AllowTestTraffic", ComputePlatform.ECS, "AllowTestTraffic is run by CodeDeploy itself"),
        ("End", ComputePlatform.LAMBDA, "End is run by CodeDeploy itself"),
        (
            "BeforeInstall",
            ComputePlatform.LAMBDA,
            "BeforeInstall is a hook of EC2/on-premises and Amazon ECS deployments",
        ),
        ("ValidateService", ComputePlatform.ECS, "ValidateService is a hook of EC2/on-premises deployments"),
        ("DownloadBundle", ComputePlatform.ECS, "DownloadBundle is not an event of Amazon ECS deployments"),
        ("beforeallowtraffic", ComputePlatform.LAMBDA, "unknown lifecycle event; event names are case-sensitive"),
        ("Deploy", ComputePlatform.SERVER, "unknown lifecycle event (hooks of EC2/on-premises deployments:"),
    ],
)
def test_why_an_event_cannot_be_hooked(event: str, platform: ComputePlatform, start: str) -> None:
    problem = hook_event_problem(event, platform)

    assert problem is not None
    assert problem.startswith(start)


def test_the_appspec_readers_reach_no_io_library() -> None:
    readers = sorted((ROOT / "conveyor" / "deploy").glob("appspec*.py"))
    assert len(readers) >= 5

    reached = sorted({path for reader in readers for path in reachable_project_files(reader)})

    assert check(reached, IMPURE) == []
