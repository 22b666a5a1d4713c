"""Lambda deployments end to end: CreateDeployment of a Lambda AppSpec, the rollout job on a real RQ worker moving
the alias in moto, hook functions played by the test reporting with a real boto3 `codedeploy` client over HTTP to a
real Conveyor server, alarms in moto's CloudWatch, stops, rollbacks and redeploys."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import requests
from click.testing import CliRunner
from moto import mock_aws
from sqlalchemy import select
from werkzeug.serving import make_server

from conveyor import aws
from conveyor.cli.main import main
from conveyor.config import Settings
from conveyor.db.models import Dispatch, utcnow
from conveyor.deploy import deployments, registry
from conveyor.deploy.deployments import DeploymentRequest
from conveyor.deploy.rollout_runner import run_rollout
from conveyor.dispatch import Kind, claim
from conveyor.errors import Conflict, SpecError
from conveyor.pipeline import definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.recovery import reconcile
from conveyor.runtime import Runtime
from handlers.app import create_app
from jobs.dispatch import RQInspector
from tests.conftest import AWS_REGION, settings_for
from tests.support.gitrepo import GitRepo
from tests.support.lambdas import AFTER, ALIAS, BEFORE, FUNCTION, Journal, appspec, content_revision, make_functions
from tests.support.pipelines import as_yaml, source_action

TARGET_ID = f"{FUNCTION}:{ALIAS}"
EVENTS = ["Start", "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic", "End"]
ON_FAILURE = {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]}


@pytest.fixture
def aws_mock(fake_aws_credentials: None) -> Iterator[None]:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        make_functions()
        yield


@pytest.fixture
def settings(tmp_path: Any, database_url: str, redis_client: Any, aws_mock: None, request: Any) -> Settings:
    hook_timeout = getattr(request, "param", 30)
    return settings_for(
        tmp_path, database_url, deploy_interval_unit="seconds", deploy_hook_timeout=hook_timeout, aws_region=AWS_REGION
    )


@pytest.fixture
def server(settings: Settings, rt: Runtime) -> Iterator[str]:
    """A real Conveyor web server on a free port, on the test's settings."""
    app = create_app({field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)
    app.extensions["conveyor"].db.dispose()


@pytest.fixture
def codedeploy(server: str) -> Any:
    """What a hook function's code does: a boto3 codedeploy client, pointed at Conveyor."""
    return boto3.client("codedeploy", region_name=AWS_REGION, endpoint_url=f"{server}/aws/codedeploy")


@pytest.fixture
def journal(rt: Runtime, codedeploy: Any) -> Iterator[Journal]:
    watched = Journal(codedeploy)
    watched.watch(aws.client("lambda", rt.settings))
    yield watched
    watched.join()


def make_group(rt: Runtime, **definition: Any) -> None:
    registry.create_application(rt, "shop", compute_platform="Lambda")
    for name, percent, interval in (("Canary10Percent2Seconds", 10, 2), ("Linear34PercentEverySecond", 34, 1)):
        kind, key = (
            ("TimeBasedCanary", "timeBasedCanary") if "Canary" in name else ("TimeBasedLinear", "timeBasedLinear")
        )
        body = {"canaryPercentage": percent, "canaryInterval": interval}
        if kind == "TimeBasedLinear":
            body = {"linearPercentage": percent, "linearInterval": interval}
        config = {
            "deploymentConfigName": name,
            "computePlatform": "Lambda",
            "trafficRoutingConfig": {"type": kind, key: body},
        }
        registry.create_deployment_config(rt, json.dumps(config))
    group = {"deploymentGroupName": "checkout", "deploymentConfigName": "Canary10Percent2Seconds", **definition}
    registry.create_deployment_group(rt, "shop", json.dumps(group))


def deploy(rt: Runtime, text: str | None = None, **options: Any) -> dict[str, Any]:
    request = DeploymentRequest("shop", "checkout", content_revision(text or appspec()), **options)
    return deployments.create_deployment(rt, request)


def events(deployment: dict[str, Any]) -> list[tuple[str, str]]:
    [target] = deployment["targets"]
    assert target["targetId"] == TARGET_ID
    return [(e["lifecycleEventName"], e["status"]) for e in target["lifecycleEvents"]]


def alias(rt: Runtime) -> tuple[str, dict[str, float]]:
    answer = aws.client("lambda", rt.settings).get_alias(FunctionName=FUNCTION, Name=ALIAS)
    return answer["FunctionVersion"], (answer.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


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


def test_a_linear_deployment_adds_one_share_per_interval(rt: Runtime, run_jobs: Any, journal: Journal) -> None:
    make_group(rt)
    created = deploy(rt, appspec(hooks={}), deployment_config_name="Linear34PercentEverySecond")
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


def test_a_second_deployment_is_refused_while_one_runs(rt: Runtime, run_jobs: Any, journal: Journal) -> None:
    make_group(rt)
    created = deploy(rt)
    refused: list[str] = []

    def try_another(_shift: int) -> None:
        with pytest.raises(Conflict) as info:
            deploy(rt)
        refused.append(info.value.message)

    journal.on_shift = try_another
    run_jobs()
    assert refused[0] == (
        f"deployment group checkout already has deployment {created['deploymentId']} in progress; "
        "wait for it to end or stop it first"
    )


def test_an_invalid_appspec_is_refused_with_every_problem_and_nothing_recorded(rt: Runtime) -> None:
    make_group(rt)
    bad = appspec(current="1", target="$LATEST").replace("Alias: live", "Alias: 123")
    with pytest.raises(SpecError) as info:
        deploy(rt, bad)
    assert [p.path for p in info.value.problems] == [
        "Resources[0].Checkout.Properties.Alias",
        "Resources[0].Checkout.Properties.TargetVersion",
    ]
    assert deployments.list_deployments(rt, "shop", "checkout") == []


def test_a_revision_whose_sha256_does_not_match_is_refused(rt: Runtime, server: str) -> None:
    make_group(rt)
    revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec(), "sha256": "0" * 64}}
    answer = requests.post(
        f"{server}/api/v1/applications/shop/deployment-groups/checkout/deployments",
        json={"revision": revision},
        timeout=10,
    )
    assert answer.status_code == 400
    assert "'revision.appSpecContent.sha256'" in answer.json()["message"]
    assert deployments.list_deployments(rt, "shop", "checkout") == []


def test_reports_that_cannot_be_taken_are_refused_in_codedeploys_terms(
    rt: Runtime, run_jobs: Any, journal: Journal, codedeploy: Any, server: str
) -> None:
    make_group(rt)
    created = deploy(rt, deployment_config_name="CodeDeployDefault.LambdaAllAtOnce")
    run_jobs()
    journal.join()
    [before, _after] = journal.invocations

    def refused(**request: Any) -> tuple[str, str]:
        with pytest.raises(codedeploy.exceptions.ClientError) as info:
            codedeploy.put_lifecycle_event_hook_execution_status(**request)
        error = info.value.response["Error"]
        return error["Code"], error["Message"]

    execution = before["LifecycleEventHookExecutionId"]
    assert refused(
        deploymentId=created["deploymentId"], lifecycleEventHookExecutionId=execution, status="Succeeded"
    ) == (
        "LifecycleEventAlreadyCompletedException",
        "the BeforeAllowTraffic event of this hook execution is no longer waiting for a status (it is Succeeded)",
    )
    assert refused(deploymentId=created["deploymentId"], lifecycleEventHookExecutionId="nope", status="Failed")[0] == (
        "InvalidLifecycleEventHookExecutionIdException"
    )
    assert refused(deploymentId="d-NOSUCHONE", lifecycleEventHookExecutionId=execution, status="Failed") == (
        "DeploymentDoesNotExistException",
        "deployment d-NOSUCHONE does not exist",
    )
    assert refused(deploymentId=created["deploymentId"], lifecycleEventHookExecutionId=execution, status="Done") == (
        "InvalidLifecycleEventHookExecutionStatusException",
        "status must be Succeeded or Failed, not 'Done'",
    )
    garbled = requests.post(
        f"{server}/aws/codedeploy",
        data=b"{not json",
        headers={"X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"},
        timeout=10,
    )
    assert (garbled.status_code, garbled.json()["__type"]) == (400, "SerializationException")
    other = requests.post(
        f"{server}/aws/codedeploy",
        data=b"{}",
        headers={"X-Amz-Target": "CodeDeploy_20141006.StopDeployment"},
        timeout=10,
    )
    assert other.json()["__type"] == "UnknownOperationException"


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
