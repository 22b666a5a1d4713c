"""The lifecycle events of each compute platform, and which of them an AppSpec may hook.

CodeDeploy runs its own work in some events (the agent copies the bundle in `DownloadBundle`, the files in
`Install`; the load balancer or the alias moves traffic in `BlockTraffic`, `AllowTestTraffic`, `AllowTraffic`), so
those cannot hold hooks. The lists are in the order the events run in the deployment they belong to.
"""

from __future__ import annotations

from conveyor.deploy.platforms import PLATFORM_LABELS, ComputePlatform

# Hooks on hosts run scripts; the order is the in-place order with a load balancer.
HOST_HOOK_EVENTS = (
    "BeforeBlockTraffic",
    "AfterBlockTraffic",
    "ApplicationStop",
    "BeforeInstall",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
HOST_RESERVED_EVENTS = ("BlockTraffic", "DownloadBundle", "Install", "AllowTraffic")

# Hooks of Lambda and ECS deployments name Lambda functions that report back.
LAMBDA_HOOK_EVENTS = ("BeforeAllowTraffic", "AfterAllowTraffic")
LAMBDA_RESERVED_EVENTS = ("Start", "AllowTraffic", "End")
ECS_HOOK_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
ECS_RESERVED_EVENTS = ("Start", "Install", "AllowTestTraffic", "AllowTraffic", "End")

HOOK_EVENTS = {
    ComputePlatform.SERVER: HOST_HOOK_EVENTS,
    ComputePlatform.LAMBDA: LAMBDA_HOOK_EVENTS,
    ComputePlatform.ECS: ECS_HOOK_EVENTS,
}
RESERVED_EVENTS = {
    ComputePlatform.SERVER: HOST_RESERVED_EVENTS,
    ComputePlatform.LAMBDA: LAMBDA_RESERVED_EVENTS,
    ComputePlatform.ECS: ECS_RESERVED_EVENTS,
}


def hook_event_problem(name: str, platform: ComputePlatform) -> str | None:
    """Why `name` cannot be hooked in an AppSpec for `platform`, or None when it can."""
    if name in HOOK_EVENTS[platform]:
        return None
    if name in RESERVED_EVENTS[platform]:
        return f"{name} is run by CodeDeploy itself and cannot hold a hook ({_valid(platform)})"
    elsewhere = [p.label for p in ComputePlatform if p is not platform and name in HOOK_EVENTS[p]]
    if elsewhere:
        where = " and ".join(elsewhere)
        return f"{name} is a hook of {where} deployments, not of {platform.label} ones ({_valid(platform)})"
    if any(name in RESERVED_EVENTS[p] for p in ComputePlatform):
        return f"{name} is not an event of {platform.label} deployments and cannot hold a hook ({_valid(platform)})"
    spelled = next((e for e in HOOK_EVENTS[platform] if e.lower() == name.lower()), None)
    if spelled is not None:
        return f"unknown lifecycle event; event names are case-sensitive: did you mean {spelled}?"
    return f"unknown lifecycle event ({_valid(platform)})"


def _valid(platform: ComputePlatform) -> str:
    return f"hooks of {platform.label} deployments: {', '.join(HOOK_EVENTS[platform])}"


__all__ = ["PLATFORM_LABELS", "ComputePlatform"]
