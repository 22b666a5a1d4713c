"""In-place deployments to several hosts, each a root directory and a queue worked in this process as its agent
would: real bundles, real hook scripts, the batches of each predefined configuration, failures and rollbacks."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from pathlib import Path

import pytest

from conveyor.deploy import deployments
from conveyor.errors import Conflict, SpecError
from conveyor.runtime import Runtime
from tests.support.hosts import IN_PLACE_EVENTS, app_revision, deploy, events_of, make_fleet


def _times(deployment: dict[str, object], host: str) -> tuple[datetime, datetime]:
    target = next(t for t in deployment["targets"] if t["targetId"] == host)  # type: ignore[attr-defined]
    return datetime.fromisoformat(target["startTime"]), datetime.fromisoformat(target["endTime"])


def test_one_host_gets_every_event_in_order_and_its_files(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    created = deploy(rt, app_revision("v1"))
    assert re.fullmatch(r"d-[A-Z0-9]{9}", created["deploymentId"])
    assert created["status"] == "InProgress"
    fleet.work()

    done = deployments.get_deployment(rt, created["deploymentId"])
    assert done["status"] == "Succeeded", done
    first = events_of(done, "web-01")
    assert [name for name, _ in first] == IN_PLACE_EVENTS
    assert first[0] == ("ApplicationStop", "Skipped")  # nothing was installed before
    assert all(status == "Succeeded" for _, status in first[1:])
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"
    journal = (fleet.roots["web-01"] / "journal").read_text().split()
    assert journal[0::3] == ["BeforeInstall", "ApplicationStart"]
    assert done["deploymentOverview"]["Succeeded"] == 1


@pytest.mark.parametrize(
    ("config", "hosts", "batches"),
    [
        ("CodeDeployDefault.OneAtATime", 1, [["web-01"]]),
        ("CodeDeployDefault.OneAtATime", 3, [["web-01"], ["web-02"], ["web-03"]]),
        ("CodeDeployDefault.HalfAtATime", 2, [["web-01"], ["web-02"]]),
        ("CodeDeployDefault.HalfAtATime", 3, [["web-01"], ["web-02"], ["web-03"]]),
        ("CodeDeployDefault.AllAtOnce", 3, [["web-01", "web-02", "web-03"]]),
        ("CodeDeployDefault.AllAtOnce", 2, [["web-01", "web-02"]]),
    ],
)
def test_batches_follow_the_configuration_and_run_one_after_the_other(
    rt: Runtime, tmp_path: Path, config: str, hosts: int, batches: list[list[str]]
) -> None:
    fleet = make_fleet(rt, tmp_path, hosts, config)
    created = deploy(rt, app_revision("v1"))
    fleet.work()

    done = deployments.get_deployment(rt, created["deploymentId"])
    assert done["status"] == "Succeeded"
    assert done["batches"] == batches
    for number, batch in enumerate(batches, start=1):
        assert {t["batch"] for t in done["targets"] if t["targetId"] in batch} == {number}
    for earlier, later in itertools.pairwise(batches):
        last_end = max(_times(done, host)[1] for host in earlier)
        assert all(_times(done, host)[0] >= last_end for host in later)


def test_a_second_deployment_to_a_busy_group_is_refused_naming_the_first(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 2)
    first = deploy(rt, app_revision("v1"))
    with pytest.raises(Conflict) as refused:
        deploy(rt, app_revision("v2"))
    assert first["deploymentId"] in refused.value.message
    fleet.work()
    assert deployments.get_deployment(rt, first["deploymentId"])["status"] == "Succeeded"
    second = deploy(rt, app_revision("v2"))  # free again
    fleet.work()
    assert deployments.get_deployment(rt, second["deploymentId"])["status"] == "Succeeded"


def test_an_invalid_appspec_is_refused_with_every_problem_before_anything_runs(rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    files = app_revision("v1")
    files["appspec.yml"] = "version: 1.0\nos: solaris\nhooks:\n  Install:\n    - location: x.sh\n"
    with pytest.raises(SpecError) as refused:
        deploy(rt, files)
    paths = [p.path for p in refused.value.problems]
    assert {"version", "os", "hooks.Install"} <= set(paths), paths
    assert deployments.list_deployments(rt, "shop", "web") == []


def test_a_failing_validation_rolls_back_to_the_previous_revision_on_every_host(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(
        rt,
        tmp_path,
        3,
        "CodeDeployDefault.AllAtOnce",
        autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
    )
    good = deploy(rt, app_revision("v1"))
    fleet.work()
    bad = deploy(rt, app_revision("v2", validate="echo v2 is broken >&2; exit 3"))
    fleet.work()

    failed = deployments.get_deployment(rt, bad["deploymentId"])
    assert failed["status"] == "Failed"
    assert failed["errorInformation"]["code"] == "HEALTH_CONSTRAINTS"
    validate = next(e for e in failed["targets"][0]["lifecycleEvents"] if e["lifecycleEventName"] == "ValidateService")
    assert validate["diagnostics"]["errorCode"] == "ScriptFailed"
    assert "[stderr]v2 is broken" in validate["diagnostics"]["logTail"]
    rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
    rollback = deployments.get_deployment(rt, rollback_id)
    assert rollback["creator"] == "codeDeployRollback"
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == bad["deploymentId"]
    assert rollback["revision"] == good["revision"]
    assert rollback["status"] == "Succeeded"
    for host in fleet.roots:
        assert sorted(p.name for p in fleet.site(host).iterdir()) == ["index.html", "only-in-v1.html"]
        assert (fleet.site(host) / "index.html").read_text() == "<h1>v1</h1>"
        journal = (fleet.roots[host] / "journal").read_text().splitlines()
        assert f"ApplicationStop v2 {rollback_id}" in journal  # v2's Install succeeded: its stop script runs


def test_a_first_deployment_that_fails_has_nothing_to_roll_back_to(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1, autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]})
    bad = deploy(rt, app_revision("v1", validate="exit 1"))
    fleet.work()
    failed = deployments.get_deployment(rt, bad["deploymentId"])
    assert failed["status"] == "Failed"
    assert "no revision to roll back to" in failed["rollbackInfo"]["rollbackMessage"]


def test_a_hanging_hook_times_out_and_a_non_executable_script_is_made_executable(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    files = app_revision("v1", validate="sleep 60")
    files["appspec.yml"] = files["appspec.yml"].replace("timeout: 30", "timeout: 1")
    created = deploy(rt, files)
    fleet.work()
    done = deployments.get_deployment(rt, created["deploymentId"])
    assert done["status"] == "Failed"
    validate = dict(events_of(done, "web-01"))
    assert validate["ValidateService"] == "Failed"
    diagnostics = done["targets"][0]["lifecycleEvents"][-1]["diagnostics"]
    assert diagnostics["errorCode"] == "ScriptTimedOut"
    assert "process group was killed" in diagnostics["message"]


def test_a_missing_script_fails_its_event_and_skips_the_rest(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    files = app_revision("v1", extra_hooks="  AfterInstall:\n    - location: scripts/absent.sh\n")
    created = deploy(rt, files)
    fleet.work()
    done = deployments.get_deployment(rt, created["deploymentId"])
    assert events_of(done, "web-01")[4:] == [
        ("AfterInstall", "Failed"),
        ("ApplicationStart", "Skipped"),
        ("ValidateService", "Skipped"),
    ]
    assert done["targets"][0]["lifecycleEvents"][4]["diagnostics"]["errorCode"] == "ScriptMissing"


def test_redeploy_of_an_earlier_revision_puts_it_back(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 2)
    first = deploy(rt, app_revision("v1"))
    fleet.work()
    deploy(rt, app_revision("v2"))
    fleet.work()
    assert (fleet.site("web-02") / "index.html").read_text() == "<h1>v2</h1>"

    again = deployments.redeploy(rt, first["deploymentId"])
    fleet.work()
    assert deployments.get_deployment(rt, again["deploymentId"])["status"] == "Succeeded"
    assert again["revision"] == first["revision"]
    for host in fleet.roots:
        assert sorted(p.name for p in fleet.site(host).iterdir()) == ["index.html", "only-in-v1.html"]
    listed = deployments.list_deployments(rt, "shop", "web")
    assert len(listed) == 3
    assert listed[0]["deploymentId"] == again["deploymentId"]  # newest first
