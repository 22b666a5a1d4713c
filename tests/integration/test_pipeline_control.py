"""Operating executions on real workers: approvals and their timeout, stop, stage retry, disabled transitions,
automatic retry of a failing stage."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.db.models import utcnow
from conveyor.errors import Conflict, InvalidRequest, NotFound
from conveyor.pipeline import control, definitions, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from tests.support.approvals import answer, gated_pipeline, stage_of, status, token
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, build_action, pipeline


@pytest.fixture
def gated(rt: Runtime, repo: GitRepo) -> str:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("gated", repo.url))
    return "gated"


def _start(rt: Runtime, name: str, run_jobs: Any) -> str:
    execution_id = pipelines.start_pipeline(rt, name)
    run_jobs()
    return execution_id


def _action(rt: Runtime, execution_id: str, stage: str, action: str) -> dict[str, Any]:
    return next(a for a in stage_of(rt, execution_id, stage)["actions"] if a["actionName"] == action)


# --- approvals --------------------------------------------------------------------------------------------------


def test_an_approval_waits_with_a_token_and_approving_lets_the_stage_go_on(
    rt: Runtime, gated: str, run_jobs: Any
) -> None:
    execution_id = _start(rt, gated, run_jobs)
    review = _action(rt, execution_id, "Gate", "Review")
    assert review["status"] == "InProgress"
    assert review["token"] == review["externalExecutionId"]
    assert uuid.UUID(review["token"]).version == 4  # it answers the approval: all random, unlike a row id
    assert review["summary"] == "Waiting for approval"

    answered = answer(rt, gated, execution_id, "Gate", "Review", summary="looks good")
    run_jobs()
    assert answered["approvedAt"]
    review = _action(rt, execution_id, "Gate", "Review")
    assert review["status"] == "Succeeded"
    assert review["summary"] == "Approved by tester: looks good"
    assert review["token"] is None
    assert stage_of(rt, execution_id, "Release")["status"] == "InProgress"


def test_rejecting_fails_the_action_and_the_execution(rt: Runtime, gated: str, run_jobs: Any) -> None:
    execution_id = _start(rt, gated, run_jobs)
    answer(rt, gated, execution_id, "Gate", "Review", status="Rejected", summary="not today")
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Failed"
    assert execution["statusSummary"] == "Action Review in stage Gate failed: Rejected by tester: not today"


def test_wrong_tokens_bad_results_and_second_answers_are_refused(rt: Runtime, gated: str, run_jobs: Any) -> None:
    execution_id = _start(rt, gated, run_jobs)
    good = token(rt, execution_id, "Gate", "Review")
    with pytest.raises(InvalidRequest, match="does not belong to an approval of action 'Review' in stage 'Gate'"):
        control.put_approval_result(rt, gated, "Gate", "Review", "not-a-token", "Approved", "", "tester")
    with pytest.raises(InvalidRequest, match="does not belong"):  # a real token, but of another action
        control.put_approval_result(rt, gated, "Release", "Ship", good, "Approved", "", "tester")
    with pytest.raises(InvalidRequest, match="Approved or Rejected, not 'Maybe'"):
        control.put_approval_result(rt, gated, "Gate", "Review", good, "Maybe", "", "tester")
    with pytest.raises(InvalidRequest, match="at most 512"):
        control.put_approval_result(rt, gated, "Gate", "Review", good, "Approved", "x" * 513, "tester")
    with pytest.raises(NotFound):
        control.put_approval_result(rt, "no-such-pipeline", "Gate", "Review", good, "Approved", "", "tester")
    control.put_approval_result(rt, gated, "Gate", "Review", good, "Approved", "", "tester")
    with pytest.raises(Conflict, match="already answered"):
        control.put_approval_result(rt, gated, "Gate", "Review", good, "Rejected", "", "tester")
    assert _action(rt, execution_id, "Gate", "Review")["status"] == "Succeeded"


def test_an_unanswered_approval_fails_at_its_deadline_and_the_stage_stays_locked_until_then(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"README": "one"})
    definitions.create_pipeline(rt, gated_pipeline("slow", repo.url, review={"timeoutInMinutes": 5}))
    first = _start(rt, "slow", run_jobs)
    second = _start(rt, "slow", run_jobs)
    assert views.get_execution(rt, second)["waitingForStage"] == "Gate"

    assert control.expire_deadlines(rt, utcnow() + timedelta(minutes=4)) == []
    expired = control.expire_deadlines(rt, utcnow() + timedelta(minutes=6))
    run_jobs()
    assert expired == [_action(rt, first, "Gate", "Review")["actionExecutionId"]]
    execution = views.get_execution(rt, first)
    assert execution["status"] == "Failed"
    assert "the action timed out" in execution["statusSummary"]
    assert stage_of(rt, second, "Gate")["status"] == "InProgress"  # the failure released the stage


# --- stop -------------------------------------------------------------------------------------------------------


def test_stopping_abandons_a_pending_approval_and_releases_the_stage(rt: Runtime, gated: str, run_jobs: Any) -> None:
    first = _start(rt, gated, run_jobs)
    second = _start(rt, gated, run_jobs)
    control.stop_execution(rt, gated, first, abandon=False, reason="wrong build")
    run_jobs()
    execution = views.get_execution(rt, first)
    assert execution["status"] == "Stopped"
    assert execution["statusSummary"] == "Stopped: wrong build"
    assert stage_of(rt, first, "Gate")["status"] == "Stopped"
    assert _action(rt, first, "Gate", "Review")["status"] == "Abandoned"
    assert stage_of(rt, second, "Gate")["status"] == "InProgress"
    with pytest.raises(Conflict, match="is Stopped: it cannot be stopped"):
        control.stop_execution(rt, gated, first, abandon=True)


def test_a_waiting_execution_stops_at_once(rt: Runtime, gated: str, run_jobs: Any) -> None:
    first = _start(rt, gated, run_jobs)
    second = _start(rt, gated, run_jobs)
    control.stop_execution(rt, gated, second, abandon=False)
    execution = views.get_execution(rt, second)
    assert execution["status"] == "Stopped"
    assert execution["waitingForStage"] is None
    assert status(rt, first) == "InProgress"
    with pytest.raises(NotFound, match="no pipeline execution 00000000"):
        control.stop_execution(rt, "gated", "00000000-0000-0000-0000-000000000000", abandon=True)
    with pytest.raises(InvalidRequest, match="at most 200"):
        control.stop_execution(rt, gated, first, abandon=True, reason="r" * 201)


SLEEPY_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 30\n"


def test_stop_and_wait_lets_a_running_build_finish_while_abandon_stops_it(
    rt: Runtime, repo: GitRepo, run_jobs: Any
) -> None:
    repo.commit({"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo quick\n"})
    definitions.create_pipeline(rt, as_yaml(pipeline("quick", repo.url, build_actions=[build_action(outputs=())])))
    execution_id = pipelines.start_pipeline(rt, "quick")
    run_jobs_until = _run_one_kind(rt)
    run_jobs_until("default")  # the source fetch; the build is queued, not run
    control.stop_execution(rt, "quick", execution_id, abandon=False, reason="let it finish")
    assert status(rt, execution_id) == "Stopping"
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "Stopped"
    assert _action(rt, execution_id, "Build", "Build")["status"] == "Succeeded"

    second = pipelines.start_pipeline(rt, "quick")
    run_jobs_until("default")
    control.stop_execution(rt, "quick", second, abandon=True)
    assert status(rt, second) == "Stopped"
    build = _action(rt, second, "Build", "Build")
    assert build["status"] == "Abandoned"
    run_jobs()
    from conveyor.build import views as build_views

    assert build_views.get_build(rt, build["externalExecutionId"])["buildStatus"] == "STOPPED"


def _run_one_kind(rt: Runtime) -> Any:
    from rq import SimpleWorker

    from conveyor.queues import PIPELINE_QUEUE

    def run(queue: str) -> None:
        SimpleWorker([queue, PIPELINE_QUEUE], connection=rt.redis).work(burst=True, logging_level="WARNING")

    return run


# --- retry ------------------------------------------------------------------------------------------------------


def test_a_rejected_stage_is_retried_with_a_new_token(rt: Runtime, gated: str, run_jobs: Any) -> None:
    execution_id = _start(rt, gated, run_jobs)
    old_token = token(rt, execution_id, "Gate", "Review")
    answer(rt, gated, execution_id, "Gate", "Review", status="Rejected")
    run_jobs()
    with pytest.raises(Conflict, match="stage Release is not entered"):
        control.retry_stage(rt, gated, execution_id, "Release", "FAILED_ACTIONS")
    with pytest.raises(Conflict, match="retry mode must be"):
        control.retry_stage(rt, gated, execution_id, "Gate", "SOME_ACTIONS")

    control.retry_stage(rt, gated, execution_id, "Gate", "FAILED_ACTIONS")
    run_jobs()
    execution = views.get_execution(rt, execution_id)
    assert execution["status"] == "InProgress"
    assert execution["statusSummary"] is None
    gate = stage_of(rt, execution_id, "Gate")
    assert gate["status"] == "InProgress"
    assert gate["retryStageMetadata"] == {"manualStageRetryAttempt": 1, "latestRetryTrigger": "ManualStageRetry"}
    review = _action(rt, execution_id, "Gate", "Review")
    assert review["attempt"] == 2
    assert review["token"] != old_token
    with pytest.raises(InvalidRequest, match="does not belong"):  # the first attempt's token no longer answers
        control.put_approval_result(rt, gated, "Gate", "Review", old_token + "x", "Approved", "", "tester")
    with pytest.raises(Conflict, match="already answered"):
        control.put_approval_result(rt, gated, "Gate", "Review", old_token, "Approved", "", "tester")
    with pytest.raises(Conflict, match="InProgress: only a failed or stopped execution"):
        control.retry_stage(rt, gated, execution_id, "Gate", "ALL_ACTIONS")

    answer(rt, gated, execution_id, "Gate", "Review")
    run_jobs()
    answer(rt, gated, execution_id, "Release", "Ship")
    run_jobs()
    assert status(rt, execution_id) == "Succeeded"


def test_a_stage_is_not_retried_once_a_newer_execution_entered_it_or_the_pipeline_changed(
    rt: Runtime, gated: str, repo: GitRepo, run_jobs: Any
) -> None:
    first = _start(rt, gated, run_jobs)
    answer(rt, gated, first, "Gate", "Review", status="Rejected")
    run_jobs()
    second = _start(rt, gated, run_jobs)
    assert stage_of(rt, second, "Gate")["status"] == "InProgress"
    with pytest.raises(Conflict, match="a newer execution has entered stage Gate"):
        control.retry_stage(rt, gated, first, "Gate", "FAILED_ACTIONS")

    answer(rt, gated, second, "Gate", "Review", status="Rejected")
    run_jobs()
    definitions.update_pipeline(rt, gated, gated_pipeline("gated", repo.url))
    with pytest.raises(Conflict, match=r"was updated \(version 1 → 2\)"):
        control.retry_stage(rt, gated, second, "Gate", "FAILED_ACTIONS")


FLAKY_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - if [ -f "{marker}" ]; then echo second try; else touch "{marker}"; exit 1; fi
"""


def test_on_failure_retry_runs_a_failed_stage_once_more_by_itself(
    rt: Runtime, repo: GitRepo, run_jobs: Any, tmp_path: Path
) -> None:
    repo.commit({"buildspec.yml": FLAKY_BUILDSPEC.format(marker=tmp_path / "tried")})
    document = pipeline("flaky", repo.url, build_actions=[build_action(outputs=())], pipelineType="V2")
    document["pipeline"]["stages"][1]["onFailure"] = {
        "result": "RETRY",
        "retryConfiguration": {"retryMode": "FAILED_ACTIONS"},
    }
    definitions.create_pipeline(rt, as_yaml(document))
    execution_id = _start(rt, "flaky", run_jobs)
    assert status(rt, execution_id) == "Succeeded"
    build = stage_of(rt, execution_id, "Build")
    assert build["retryStageMetadata"] == {"autoStageRetryAttempt": 1, "latestRetryTrigger": "AutomatedStageRetry"}
    assert build["actions"][0]["attempt"] == 2

    (tmp_path / "tried").unlink()
    repo.commit({"buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - exit 3\n"})
    failing = _start(rt, "flaky", run_jobs)
    assert status(rt, failing) == "Failed"  # one automatic attempt, then the failure stands
    assert stage_of(rt, failing, "Build")["actions"][0]["attempt"] == 2


# --- transitions ------------------------------------------------------------------------------------------------


def test_a_disabled_transition_holds_executions_and_enabling_it_lets_the_latest_in(
    rt: Runtime, gated: str, run_jobs: Any
) -> None:
    control.set_transition(rt, gated, "Release", "Inbound", enabled=False, reason="change freeze", by="ops")
    first = _start(rt, gated, run_jobs)
    answer(rt, gated, first, "Gate", "Review")
    run_jobs()
    assert views.get_execution(rt, first)["waitingForStage"] == "Release"
    second = _start(rt, gated, run_jobs)
    answer(rt, gated, second, "Gate", "Review")
    run_jobs()
    assert status(rt, first) == "Superseded"  # SUPERSEDED mode: the newer one replaces it behind the transition
    assert views.get_execution(rt, second)["waitingForStage"] == "Release"

    disabled = definitions.get_pipeline(rt, gated)["disabledTransitions"]
    assert disabled["Release"]["reason"] == "change freeze"
    assert disabled["Release"]["lastChangedBy"] == "ops"
    control.set_transition(rt, gated, "Gate", "Outbound", enabled=True)
    run_jobs()
    assert stage_of(rt, second, "Release")["status"] == "InProgress"
    assert definitions.get_pipeline(rt, gated)["disabledTransitions"] == {}


def test_transition_requests_are_checked(rt: Runtime, gated: str) -> None:
    with pytest.raises(InvalidRequest, match="first stage: it has no inbound transition"):
        control.set_transition(rt, gated, "Source", "Inbound", enabled=False, reason="x")
    with pytest.raises(InvalidRequest, match="last stage: it has no outbound transition"):
        control.set_transition(rt, gated, "Release", "Outbound", enabled=False, reason="x")
    with pytest.raises(InvalidRequest, match="Inbound or Outbound"):
        control.set_transition(rt, gated, "Gate", "Sideways", enabled=False, reason="x")
    with pytest.raises(InvalidRequest, match="1 to 300 characters"):
        control.set_transition(rt, gated, "Gate", "Inbound", enabled=False, reason="no; semicolons")
    with pytest.raises(NotFound, match="no stage named 'Nowhere'"):
        control.set_transition(rt, gated, "Nowhere", "Inbound", enabled=False, reason="x")


# --- a definition updated mid-run -------------------------------------------------------------------------------


def test_an_execution_keeps_its_version_when_the_pipeline_is_updated_mid_run(
    rt: Runtime, gated: str, repo: GitRepo, run_jobs: Any
) -> None:
    running = _start(rt, gated, run_jobs)
    renamed = gated_pipeline("gated", repo.url).replace("name: Release", "name: Production")
    assert "Production" in renamed
    definitions.update_pipeline(rt, gated, renamed)

    answer(rt, gated, running, "Gate", "Review")
    run_jobs()
    execution = views.get_execution(rt, running)
    assert execution["pipelineVersion"] == 1
    assert [s["stageName"] for s in execution["stages"]] == ["Source", "Gate", "Release"]
    assert stage_of(rt, running, "Release")["status"] == "InProgress"
    answer(rt, gated, running, "Release", "Ship")
    run_jobs()
    assert status(rt, running) == "Succeeded"

    newer = _start(rt, gated, run_jobs)
    assert [s["stageName"] for s in views.get_execution(rt, newer)["stages"]] == ["Source", "Gate", "Production"]


def test_an_approval_with_a_notification_arn_publishes_its_token_to_sns(
    rt: Runtime, repo: GitRepo, run_jobs: Any, fake_aws_credentials: None
) -> None:
    import json as jsonlib

    import boto3
    from moto import mock_aws

    from tests.conftest import AWS_REGION

    repo.commit({"README": "one"})
    with mock_aws():
        sns = boto3.client("sns", region_name=AWS_REGION)
        sqs = boto3.client("sqs", region_name=AWS_REGION)
        topic = sns.create_topic(Name="approvals")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        review = {
            "configuration": {"NotificationArn": topic, "CustomData": "Check #{codepipeline.PipelineExecutionId}"}
        }
        definitions.create_pipeline(rt, gated_pipeline("told", repo.url, review=review))
        execution_id = _start(rt, "told", run_jobs)

        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    assert len(messages) == 1
    body = jsonlib.loads(messages[0]["Body"])
    approval = body["approval"]
    assert approval["token"] == token(rt, execution_id, "Gate", "Review")
    assert (approval["pipelineName"], approval["stageName"], approval["actionName"]) == ("told", "Gate", "Review")
    assert approval["customData"] == f"Check {execution_id}"
    assert approval["approvalReviewLink"].endswith(f"/api/v1/executions/{execution_id}")
    assert approval["expires"]


def test_an_approval_whose_topic_is_gone_still_waits_for_its_answer(
    rt: Runtime, repo: GitRepo, run_jobs: Any, fake_aws_credentials: None
) -> None:
    from moto import mock_aws

    repo.commit({"README": "one"})
    with mock_aws():
        missing = "arn:aws:sns:us-east-1:123456789012:nobody-listens"
        definitions.create_pipeline(
            rt, gated_pipeline("quiet", repo.url, review={"configuration": {"NotificationArn": missing}})
        )
        execution_id = _start(rt, "quiet", run_jobs)
    assert _action(rt, execution_id, "Gate", "Review")["status"] == "InProgress"
    assert token(rt, execution_id, "Gate", "Review")
