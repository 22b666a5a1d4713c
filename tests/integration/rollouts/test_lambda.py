"""Lambda deployments end to end: CreateDeployment of a Lambda AppSpec, the rollout job on a real RQ worker moving
the alias in moto, hook functions played by the test reporting with a real boto3 `codedeploy` client over HTTP to a
real Conveyor server, alarms in moto's CloudWatch, stops, rollbacks, redeploys, a resumed job, a pipeline action."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select

from conveyor import aws
from conveyor.cli.main import main
from conveyor.db.models import Dispatch, utcnow
from conveyor.db.notify_models import StateEvent
from conveyor.deploy import deployments
from conveyor.deploy.deployments import DeploymentRequest
from conveyor.deploy.rollout_runner import run_rollout
from conveyor.dispatch import Kind, claim
from conveyor.notify.catalog import DEPLOY
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from jobs.dispatch import RQInspector
from tests.support.gitrepo import GitRepo
from tests.support.lambdas import (
    AFTER,
    BEFORE,
    EVENTS,
    ON_FAILURE,
    TARGET_ID,
    Journal,
    alias,
    appspec,
    deploy,
    events,
    make_group,
)
from tests.support.pipelines import as_yaml, source_action


def test_a_canary_deployment_runs_its_events_in_order_and_shifts_the_alias_after_the_interval(
    rt: Runtime, run_jobs: Any, journal: Journal, server: str
) -> None:
    make_group(rt)
    created = deploy(rt)
    assert (created["status"], created["computePlatform"]) == ("InProgress", "Lambda")
    run_jobs()
    journal.join()

    assert journal.order == [
        f"invoke {BEFORE}",
        'alias 1 {"2": 0.1}',
        "alias 2 {}",
        f"invoke {AFTER}",
    ]
    first, last = journal.alias_times
    assert last - first >= 2  # the canary's interval, read as seconds
    [before, after] = journal.invocations
    assert before["DeploymentId"] == after["DeploymentId"] == created["deploymentId"]
    assert before["LifecycleEventHookExecutionId"] != after["LifecycleEventHookExecutionId"]

    shown = requests.get(f"{server}/api/v1/deployments/{created['deploymentId']}", timeout=10).json()
    assert shown["status"] == "Succeeded"
    assert events(shown) == [(name, "Succeeded") for name in EVENTS]
    [target] = shown["targets"]
    times = [(e["startTime"], e["endTime"]) for e in target["lifecycleEvents"]]
    flat = [t for pair in times for t in pair]
    assert flat == sorted(flat)  # each event starts after the one before it ended
    assert alias(rt) == ("2", {})

    out = CliRunner().invoke(main, ["--server", server, "deploy", "show", created["deploymentId"]])
    assert out.exit_code == 0, out.output
    assert TARGET_ID in out.output
    assert all(f"{name}:Succeeded" in out.output for name in EVENTS)
    watched = CliRunner().invoke(main, ["--server", server, "deploy", "watch", created["deploymentId"]])
    assert watched.exit_code == 0
    assert f"{TARGET_ID}: AfterAllowTraffic Succeeded" in watched.output


def test_a_linear_deployment_from_the_command_line_adds_one_share_per_interval(
    rt: Runtime, run_jobs: Any, journal: Journal, server: str, tmp_path: Path
) -> None:
    make_group(rt)
    file = tmp_path / "appspec.yml"
    file.write_text(appspec(hooks={}))
    command = ["--server", server, "deploy", "create", "shop", "checkout", "--appspec", str(file)]
    out = CliRunner().invoke(main, [*command, "--config", "Linear34PercentEverySecond", "--output", "json"])
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert created["revision"]["appSpecContent"]["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    run_jobs()

    assert journal.aliases == [("1", {"2": 0.34}), ("1", {"2": 0.68}), ("2", {})]
    times = journal.alias_times
    assert all(later - earlier >= 1 for earlier, later in itertools.pairwise(times))
    shown = deployments.get_deployment(rt, created["deploymentId"])
    assert events(shown) == [
        ("Start", "Succeeded"),
        ("BeforeAllowTraffic", "Skipped"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Skipped"),
        ("End", "Succeeded"),
    ]


def test_a_hook_reporting_failed_fails_the_deployment_and_its_rollback_moves_the_alias_back(
    rt: Runtime, run_jobs: Any, journal: Journal
) -> None:
    make_group(rt, autoRollbackConfiguration=ON_FAILURE)
    journal.answers[AFTER] = "Failed"
    created = deploy(rt)
    run_jobs()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    assert failed["errorInformation"] == {
        "code": "HOOK_EXECUTION_FAILURE",
        "message": f"the AfterAllowTraffic hook function {AFTER} reported Failed",
    }
    assert events(failed)[3:] == [("AfterAllowTraffic", "Failed"), ("End", "Skipped")]
    rollback_id = failed["rollbackInfo"]["rollbackDeploymentId"]
    rollback = deployments.get_deployment(rt, rollback_id)
    assert (rollback["status"], rollback["creator"]) == ("Succeeded", "codeDeployRollback")
    assert rollback["rollbackInfo"]["rollbackTriggeringDeploymentId"] == created["deploymentId"]
    assert events(rollback) == [("Start", "Succeeded"), ("AllowTraffic", "Succeeded"), ("End", "Succeeded")]
    assert journal.aliases[-1] == ("1", {})
    assert journal.order.count(f"invoke {AFTER}") == 1  # the rollback runs no hook
    assert alias(rt) == ("1", {})
    told = [(e.resource, e.state) for e in deployment_events(rt)]
    assert told == [
        (created["deploymentId"], "START"),
        (created["deploymentId"], "FAILURE"),
        (created["deploymentId"], "ROLLBACK"),
        (rollback_id, "START"),
        (rollback_id, "SUCCESS"),
    ]


def deployment_events(rt: Runtime) -> list[StateEvent]:
    """The deployment state changes written for notifications, in order."""
    with rt.db.reader() as session:
        return list(session.scalars(select(StateEvent).where(StateEvent.source == DEPLOY).order_by(StateEvent.id)))


def test_an_alarm_in_alarm_mid_canary_stops_the_deployment_and_rolls_the_alias_back(
    rt: Runtime, run_jobs: Any, journal: Journal
) -> None:
    cloudwatch = aws.client("cloudwatch", rt.settings)
    cloudwatch.put_metric_alarm(
        AlarmName="checkout-errors",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    alarms = {"enabled": True, "alarms": [{"name": "checkout-errors"}]}
    make_group(rt, alarmConfiguration=alarms, autoRollbackConfiguration=ON_FAILURE)

    def errors_after_the_canary(shift: int) -> None:
        if shift == 1:
            cloudwatch.set_alarm_state(AlarmName="checkout-errors", StateValue="ALARM", StateReason="5 errors")

    journal.on_shift = errors_after_the_canary
    created = deploy(rt)
    run_jobs()

    assert journal.order == [f"invoke {BEFORE}", 'alias 1 {"2": 0.1}', "alias 1 {}"]
    stopped = deployments.get_deployment(rt, created["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"] == {
        "code": "ALARM_ACTIVE",
        "message": "alarm in ALARM state: checkout-errors (5 errors)",
    }
    assert events(stopped)[2:] == [("AllowTraffic", "Failed"), ("AfterAllowTraffic", "Skipped"), ("End", "Skipped")]
    rollback = deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])
    assert rollback["status"] == "Succeeded"  # a rollback does not watch the alarm that caused it
    assert alias(rt) == ("1", {})


@pytest.mark.parametrize("settings", [1], indirect=True)
def test_a_hook_that_never_reports_fails_its_event_after_the_hook_timeout(
    rt: Runtime, run_jobs: Any, journal: Journal
) -> None:
    make_group(rt)
    journal.answers[BEFORE] = None
    created = deploy(rt)
    run_jobs()

    failed = deployments.get_deployment(rt, created["deploymentId"])
    assert failed["status"] == "Failed"
    message = (
        f"the BeforeAllowTraffic hook function {BEFORE} did not report its status "
        "(PutLifecycleEventHookExecutionStatus) within 1 s"
    )
    assert failed["errorInformation"] == {"code": "HOOK_EXECUTION_FAILURE", "message": message}
    [target] = failed["targets"]
    assert target["lifecycleEvents"][1]["diagnostics"]["message"] == message
    assert journal.aliases == []  # no traffic moved
    assert "rollbackInfo" not in failed  # the group asks for no rollback


@pytest.mark.parametrize("rollback", [True, False])
def test_a_deployment_stopped_mid_shift_ends_at_once_and_rolls_back_when_asked(
    rt: Runtime, run_jobs: Any, journal: Journal, server: str, rollback: bool
) -> None:
    make_group(rt)
    created = deploy(rt)

    def stop_after_the_canary(shift: int) -> None:
        if shift == 1:
            answer = requests.post(
                f"{server}/api/v1/deployments/{created['deploymentId']}/stop",
                json={"autoRollbackEnabled": rollback},
                timeout=10,
            )
            assert answer.status_code == 200, answer.text

    journal.on_shift = stop_after_the_canary
    run_jobs()

    stopped = deployments.get_deployment(rt, created["deploymentId"])
    assert stopped["status"] == "Stopped"
    assert stopped["errorInformation"]["code"] == "MANUAL_STOP"
    assert events(stopped)[2] == ("AllowTraffic", "Failed")
    if rollback:
        assert alias(rt) == ("1", {})
        assert deployments.get_deployment(rt, stopped["rollbackInfo"]["rollbackDeploymentId"])["status"] == "Succeeded"
    else:
        assert alias(rt) == ("1", {"2": 0.1})  # left where the stop found it
        assert "rollbackInfo" not in stopped


def test_a_redeploy_of_a_rolled_back_revision_deploys_it_again(rt: Runtime, run_jobs: Any, journal: Journal) -> None:
    make_group(rt, autoRollbackConfiguration=ON_FAILURE)
    journal.answers[BEFORE] = "Failed"
    first = deploy(rt)
    run_jobs()
    assert deployments.get_deployment(rt, first["deploymentId"])["status"] == "Failed"

    journal.answers[BEFORE] = "Succeeded"
    again = deployments.redeploy(rt, first["deploymentId"])
    run_jobs()

    assert deployments.get_deployment(rt, again["deploymentId"])["status"] == "Succeeded"
    assert alias(rt) == ("2", {})


def test_a_rollout_whose_worker_died_resumes_without_invoking_or_shifting_twice(
    rt: Runtime, run_jobs: Any, journal: Journal
) -> None:
    make_group(rt)
    created = deploy(rt)
    with rt.db.reader() as session:
        dispatch = session.scalars(select(Dispatch).where(Dispatch.kind == Kind.DEPLOY_ROLLOUT.value)).one()
    assert claim(rt.db, dispatch.id, 1) is not None  # a worker took the job ...
    run_rollout(rt, created["deploymentId"], keep_going=lambda: len(journal.aliases) < 1)  # ... and died mid-canary
    journal.join()
    assert journal.order == [f"invoke {BEFORE}", 'alias 1 {"2": 0.1}']

    later = utcnow() + timedelta(seconds=rt.settings.lease_seconds + 1)
    report = reconcile(rt, RQInspector(rt.redis), now=later)
    assert report.retried == [dispatch.id]
    run_jobs()

    assert journal.order == [f"invoke {BEFORE}", 'alias 1 {"2": 0.1}', "alias 2 {}", f"invoke {AFTER}"]
    assert deployments.get_deployment(rt, created["deploymentId"])["status"] == "Succeeded"


def test_a_pipelines_codedeploy_action_deploys_the_appspec_in_its_input_artifact_to_a_lambda_group(
    rt: Runtime, run_jobs: Any, journal: Journal, repo: GitRepo
) -> None:
    make_group(rt)
    repo.commit({"appspec.yaml": appspec(), "README.md": "checkout"})
    ship = {
        "name": "Ship",
        "actionTypeId": {"category": "Deploy", "owner": "AWS", "provider": "CodeDeploy", "version": "1"},
        "configuration": {"ApplicationName": "shop", "DeploymentGroupName": "checkout"},
        "inputArtifacts": [{"name": "SourceOutput"}],
    }
    stages = [{"name": "Source", "actions": [source_action(repo.url)]}, {"name": "Deploy", "actions": [ship]}]
    definitions.create_pipeline(rt, as_yaml({"pipeline": {"name": "release-checkout", "stages": stages}}))

    execution_id = pipelines.start_pipeline(rt, "release-checkout")
    for _ in range(10):
        run_jobs()
        execution = views.get_execution(rt, execution_id)
        if execution["status"] != "InProgress":
            break
    assert execution["status"] == "Succeeded", execution["statusSummary"]
    action = execution["stages"][1]["actions"][0]
    deployment = deployments.get_deployment(rt, action["externalExecutionId"])
    assert deployment["revision"]["revisionType"] == "Artifact"
    assert events(deployment) == [(name, "Succeeded") for name in EVENTS]
    assert alias(rt) == ("2", {})


def test_an_s3_object_that_is_the_appspec_is_deployed(rt: Runtime, run_jobs: Any, journal: Journal) -> None:
    make_group(rt)
    s3 = aws.client("s3", rt.settings)
    s3.create_bucket(Bucket="releases")
    s3.put_object(Bucket="releases", Key="checkout/appspec.yaml", Body=appspec().encode())
    revision = {
        "revisionType": "S3",
        "s3Location": {"bucket": "releases", "key": "checkout/appspec.yaml", "bundleType": "YAML"},
    }
    created = deployments.create_deployment(rt, DeploymentRequest("shop", "checkout", revision))
    run_jobs()

    assert deployments.get_deployment(rt, created["deploymentId"])["status"] == "Succeeded"
    assert alias(rt) == ("2", {})
