"""Stopping a deployment on hosts (with and without its rollback), an agent that is lost, and S3 revisions."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from sqlalchemy import select

from conveyor.db.models import Dispatch, utcnow
from conveyor.deploy import deployments
from conveyor.deploy.revisions import check_revision_shape
from conveyor.dispatch import claim
from conveyor.errors import Conflict, InvalidRequest
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs.dispatch import RQInspector
from tests.conftest import AWS_REGION
from tests.support.hosts import app_revision, deploy, events_of, make_fleet, zip_bytes


def test_a_stop_skips_what_did_not_start_and_can_roll_back(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 3)
    good = deploy(rt, app_revision("v1"))
    fleet.work()
    second = deploy(rt, app_revision("v2"))

    deployments.stop_deployment(rt, second["deploymentId"], rollback=True)
    with pytest.raises(Conflict):
        deploy(rt, app_revision("v3"))  # the stopped deployment's host is still to report
    fleet.work()

    stopped = deployments.get_deployment(rt, second["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    assert [t["status"] for t in stopped["targets"]] == ["Failed", "Skipped", "Skipped"]
    assert {status for _, status in events_of(stopped, "web-01")} == {"Skipped"}
    rollback = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert (rollback["creator"], rollback["status"]) == ("codeDeployRollback", "Succeeded")
    assert rollback["revision"] == good["revision"]
    with pytest.raises(Conflict, match="already Stopped"):
        deployments.stop_deployment(rt, second["deploymentId"])


def test_a_stop_without_rollback_leaves_the_group_as_it_was(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(
        rt, tmp_path, 2, autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_STOP_ON_REQUEST"]}
    )
    deploy(rt, app_revision("v1"))
    fleet.work()
    second = deploy(rt, app_revision("v2"))
    deployments.stop_deployment(rt, second["deploymentId"], rollback=False)
    fleet.work()
    stopped = deployments.get_deployment(rt, second["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert "rollbackInfo" not in stopped
    assert len(deployments.list_deployments(rt, "shop", "web")) == 2


def test_an_agent_that_never_takes_its_work_fails_its_host_in_bounded_time(rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    created = deploy(rt, app_revision("v1"))
    inspector = RQInspector(rt.redis)  # type: ignore[arg-type]
    assert reconcile(rt, inspector).hosts_unreachable == []  # not yet
    report = reconcile(rt, inspector, now=utcnow() + timedelta(minutes=6))
    assert len(report.hosts_unreachable) == 1
    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    first = failed["targets"][0]["lifecycleEvents"][0]
    assert first["status"] == "Failed"
    assert "no agent took the host's work" in first["diagnostics"]["message"]


def test_an_agent_lost_mid_deployment_fails_its_host_without_a_second_attempt(rt: Runtime, tmp_path: Path) -> None:
    make_fleet(rt, tmp_path, 1)
    created = deploy(rt, app_revision("v1"))
    with rt.db.reader() as session:
        dispatch = session.scalars(select(Dispatch).where(Dispatch.kind == "deploy.host")).one()
    assert claim(rt.db, dispatch.id, 1) is not None  # an agent took it, then died
    later = utcnow() + timedelta(seconds=rt.settings.lease_seconds + 1)
    report = reconcile(rt, RQInspector(rt.redis), now=later)  # type: ignore[arg-type]
    assert report.given_up == [dispatch.id]
    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert "stopped sending heartbeats" in failed["targets"][0]["lifecycleEvents"][0]["diagnostics"]["message"]


@pytest.mark.usefixtures("fake_aws_credentials")
def test_an_s3_revision_is_fetched_and_its_bucket_told_to_the_scripts(rt: Runtime, tmp_path: Path) -> None:
    fleet = make_fleet(rt, tmp_path, 1)
    files = app_revision("v1")
    files["scripts/validate.sh"] = '#!/bin/bash\necho "$BUNDLE_BUCKET/$BUNDLE_KEY" > /dev/stderr\n'
    with mock_aws():
        s3 = boto3.client("s3", region_name=AWS_REGION)
        s3.create_bucket(Bucket="releases")
        s3.put_object(Bucket="releases", Key="shop/v1.zip", Body=zip_bytes(files))
        revision = {
            "revisionType": "S3",
            "s3Location": {"bucket": "releases", "key": "shop/v1.zip", "bundleType": "zip"},
        }
        created = deployments.create_deployment(
            rt, deployments.DeploymentRequest("shop", "web", check_revision_shape(revision))
        )
        fleet.work()
        missing = {"revisionType": "S3", "s3Location": {"bucket": "releases", "key": "nope.zip", "bundleType": "zip"}}
        with pytest.raises(InvalidRequest, match="bundle is missing"):
            deployments.create_deployment(rt, deployments.DeploymentRequest("shop", "web", missing))
    done = deployments.get_deployment(rt, created["deploymentId"])
    assert done["status"] == "Succeeded"
    validate = done["targets"][0]["lifecycleEvents"][-1]
    assert "[stderr]releases/shop/v1.zip" in validate["diagnostics"]["logTail"]
    assert (fleet.site("web-01") / "index.html").read_text() == "<h1>v1</h1>"
