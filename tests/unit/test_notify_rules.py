"""Notification rules as written (every problem at its field), the event types a change is of, and what the
engine decides: cursors over ids that commit out of order, retries, commit statuses."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.config import load_settings
from conveyor.errors import ConfigurationError, SpecError
from conveyor.notify import catalog
from conveyor.notify.commit_statuses import github_repository
from conveyor.notify.engine import (
    GAP_GRACE,
    MAX_RETRY_DELAY,
    DeliveryStatus,
    after_failure,
    commit_status_description,
    settled_mark,
    tells_commit_status,
)
from conveyor.notify.masking import Masker
from conveyor.notify.messages import slack_text
from conveyor.notify.signing import sign, verify
from conveyor.notify.spec import masked_url, parse_rule
from conveyor.pipeline.spec import ActionDeclaration, ActionTypeId

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
STARTED = "codepipeline-pipeline-pipeline-execution-started"


def _problems(document: object, slack_token: bool = False) -> dict[str, str]:
    with pytest.raises(SpecError) as caught:
        parse_rule(document, default_slack_token=slack_token)
    return {p.path: p.message for p in caught.value.problems}


def test_each_target_type_parses_and_shows_no_secret() -> None:
    slack = parse_rule(
        {
            "name": "a",
            "eventTypeIds": [STARTED],
            "target": {"type": "slack", "webhookUrl": "https://hooks.slack.com/services/T1/B2/key"},
        },
        default_slack_token=False,
    )
    assert slack.target == {"type": "slack", "webhookUrl": "https://hooks.slack.com/services/***"}
    assert slack.secrets == {"webhookUrl": "https://hooks.slack.com/services/T1/B2/key"}
    chat = parse_rule(
        {"name": "b", "eventTypeIds": [STARTED], "target": {"type": "slack", "channel": "C123"}},
        default_slack_token=True,
    )
    assert chat.target["token"] == "(the slack_bot_token setting)"
    assert chat.secrets == {}
    hook = parse_rule(
        {
            "name": "c.d_e-f",
            "eventTypeIds": [STARTED, STARTED],
            "resources": {"pipelines": ["shop"]},
            "target": {"type": "webhook", "url": "https://u:pw@ci.example/in?token=t", "secret": "s" * 16},
        },
        default_slack_token=False,
    )
    assert hook.event_type_ids == (STARTED,)
    assert hook.target == {"type": "webhook", "url": "https://u:***@ci.example/in?***", "secret": "***"}
    assert hook.resources == {"pipelines": ["shop"]}
    bus = parse_rule(
        {"name": "e", "eventTypeIds": [STARTED], "target": {"type": "eventbridge"}}, default_slack_token=False
    )
    assert bus.target == {"type": "eventbridge", "eventBusName": "default"}


def test_every_problem_of_a_rule_is_told_at_its_field() -> None:
    assert _problems({"eventTypeIds": [], "target": {"type": "sms"}, "owner": "me"}) == {
        "name": "required: 1 to 64 letters, digits, '.', '_' or '-'",
        "eventTypeIds": "required: a non-empty list of event type ids",
        "target.type": "unknown target type 'sms'; expected one of slack, webhook, eventbridge",
        "owner": "unknown field",
    }
    found = _problems(
        {
            "name": "x" * 65,
            "eventTypeIds": ["codebuild-project-build-state-failed", 3],
            "resources": {"projects": [], "hosts": ["a"]},
            "target": {"type": "slack", "webhookUrl": "hooks.slack.com/x", "token": "xoxb-1"},
        }
    )
    assert set(found) == {
        "name",
        "eventTypeIds[1]",
        "resources.projects",
        "resources.hosts",
        "target.webhookUrl",
        "target.token",
    }
    assert _problems({"name": "n", "eventTypeIds": [STARTED], "target": {"type": "slack"}}) == {
        "target": "a Slack target needs either webhookUrl or channel (chat.postMessage)"
    }
    bus = {"type": "eventbridge", "eventBusName": "a bus", "region": "Mars", "roleArn": "role", "x": 1}
    assert set(_problems({"name": "n", "eventTypeIds": [STARTED], "target": bus})) == {
        "target.eventBusName",
        "target.region",
        "target.roleArn",
        "target.x",
    }
    assert _problems(["not", "an", "object"]) == {"": "a notification rule must be an object"}


def test_a_change_is_of_the_event_types_aws_names_and_conveyors_additions() -> None:
    approval = {"type": {"category": "Approval", "provider": "Manual"}}
    assert catalog.type_ids(catalog.PIPELINE, catalog.ACTION_CHANGE, "STARTED", approval) == (
        "codepipeline-pipeline-manual-approval-needed",
        "codepipeline-pipeline-action-execution-started",
    )
    assert catalog.type_ids(catalog.PIPELINE, catalog.ACTION_CHANGE, "ABANDONED", {}) == (
        "codepipeline-pipeline-action-execution-canceled",
    )
    assert catalog.type_ids(catalog.PIPELINE, catalog.STAGE_CHANGE, "STOPPING", {}) == ()
    assert catalog.type_ids(catalog.BUILD, catalog.BUILD_STATE_CHANGE, "TIMED_OUT", {}) == (
        "codebuild-project-build-state-failed",
    )
    assert catalog.type_ids(catalog.BUILD, catalog.BUILD_PHASE_CHANGE, "FAULT", {}) == (
        "codebuild-project-build-phase-failure",
    )
    assert catalog.type_ids(catalog.DEPLOY, catalog.DEPLOYMENT_CHANGE, "READY", {}) == (
        "codedeploy-application-deployment-ready",
    )
    assert set(catalog.EVENT_TYPE_IDS) > catalog.CONVEYOR_ADDITIONS
    assert len(catalog.EVENT_TYPE_IDS) == len(set(catalog.EVENT_TYPE_IDS))


def test_a_cursor_stops_before_a_gap_that_may_still_fill_and_steps_over_an_old_one() -> None:
    young, old = NOW - timedelta(seconds=1), NOW - GAP_GRACE - timedelta(seconds=1)
    assert settled_mark(10, [], NOW) == 10
    assert settled_mark(10, [(11, young), (12, young)], NOW) == 12
    assert settled_mark(10, [(11, young), (13, young), (14, young)], NOW) == 11  # 12 may be committing still
    assert settled_mark(10, [(11, old), (13, old), (14, young)], NOW) == 14  # 12 rolled back long ago
    assert settled_mark(10, [(12, young)], NOW) == 10
    assert settled_mark(0, [(21, young), (23, young)], NOW) == 21  # a cursor that saw nothing starts anywhere


def test_a_failed_attempt_waits_twice_as_long_each_time_until_attempts_run_out() -> None:
    waits = [after_failure(n, 6, True, 2.0, NOW).retry_at for n in range(1, 6)]
    assert [w - NOW for w in waits if w] == [timedelta(seconds=s) for s in (2, 4, 8, 16, 32)]
    assert after_failure(6, 6, True, 2.0, NOW).status is DeliveryStatus.FAILED
    assert after_failure(1, 6, False, 2.0, NOW).status is DeliveryStatus.FAILED
    assert after_failure(20, 30, True, 2.0, NOW).retry_at == NOW + MAX_RETRY_DELAY


def test_commit_statuses_are_told_at_an_executions_start_and_end_and_when_a_source_learns_its_commit() -> None:
    told = [
        s
        for s in ("STARTED", "STOPPING", "STOPPED", "SUCCEEDED", "SUPERSEDED")
        if tells_commit_status(catalog.EXECUTION_CHANGE, s, None)
    ]
    assert told == ["STARTED", "STOPPED", "SUCCEEDED", "SUPERSEDED"]
    assert tells_commit_status(catalog.ACTION_CHANGE, "SUCCEEDED", "Source")
    assert not tells_commit_status(catalog.ACTION_CHANGE, "SUCCEEDED", "Build")
    assert not tells_commit_status(catalog.STAGE_CHANGE, "SUCCEEDED", None)
    long = commit_status_description("shop", "0123456789", "FAILED", "x" * 300)
    assert long.startswith("shop: execution 23456789 failed: xxx")
    assert len(long) == 140


def test_a_signature_is_checked_over_the_raw_body_and_the_time_it_was_made() -> None:
    body = b'{"detail": {}}'
    header = sign("s3cret-signing-key", body, 1_800_000_000)
    expected = hmac.new(b"s3cret-signing-key", b"1800000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"
    assert verify("s3cret-signing-key", header, body, 1_800_000_100)
    assert not verify("s3cret-signing-key", header, body + b" ", 1_800_000_100)
    assert not verify("another-key-entirely", header, body, 1_800_000_100)
    assert not verify("s3cret-signing-key", header, body, 1_800_000_301)  # a replay five minutes later
    assert not verify("s3cret-signing-key", "v1=" + expected, body, 1_800_000_000)


def test_secrets_and_the_key_of_a_webhook_url_are_masked_in_error_texts() -> None:
    url = "http://127.0.0.1:9/services/T1/B2/theKey123?x=query-secret"
    mask = Masker(["xoxb-token-1"], [(url, 1)])
    text = f"POST {url} failed; retried /services/T1/B2/theKey123 with xoxb-token-1 and query-secret"
    assert mask(text) == "POST http://127.0.0.1:9/services/***?*** failed; retried /services/*** with *** and ***"
    assert mask("x" * 2000).endswith("…")
    assert masked_url("https://host/a/b/c", keep_path=2) == "https://host/a/b/***"


def test_slack_messages_link_what_they_tell_and_escape_what_users_wrote() -> None:
    event = {
        "detail-type": catalog.EXECUTION_CHANGE,
        "detail": {"pipeline": "shop", "execution-id": "abcdef0123", "state": "FAILED", "summary": "<@here> & co"},
    }
    assert slack_text(event, "https://ci.example/") == (
        ":x: Pipeline *shop* execution <https://ci.example/api/v1/executions/abcdef0123|cdef0123> FAILED: "
        "&lt;@here&gt; &amp; co"
    )
    rollback = {
        "detail-type": catalog.DEPLOYMENT_CHANGE,
        "detail": {
            "deploymentId": "d-1",
            "application": "shop",
            "deploymentGroup": "web",
            "state": "ROLLBACK",
            "rollbackDeploymentId": "d-2",
        },
    }
    assert slack_text(rollback, "https://ci.example") == (
        ":x: Deployment <https://ci.example/api/v1/deployments/d-1|d-1> of *shop* to *web* is rolled back by d-2"
    )


def test_the_notification_settings_are_checked_when_read() -> None:
    settings = load_settings(environ={"CONVEYOR_GITHUB_API_URL": "https://ghe.example/api/v3"}, overrides={})
    assert (settings.github_api_url, settings.notify_interval, settings.notify_max_attempts) == (
        "https://ghe.example/api/v3",
        1.0,
        5,
    )
    with pytest.raises(ConfigurationError) as caught:
        load_settings(environ={"CONVEYOR_GITHUB_API_URL": "ghe.example", "CONVEYOR_NOTIFY_MAX_ATTEMPTS": "0"})
    assert "github_api_url: expected an http:// or https:// URL" in caught.value.message
    assert "notify_max_attempts: expected 1 or more" in caught.value.message


def _source(provider: str, **configuration: str) -> ActionDeclaration:
    kind = ActionTypeId("Source", "AWS", provider, "1")
    return ActionDeclaration("Source", kind, 1, {"BranchName": "main", **configuration}, (), ("Out",))


def test_a_source_is_a_github_repository_when_it_names_one_or_lives_on_github_or_the_enterprise_host() -> None:
    api, enterprise = "https://api.github.com", "https://git.corp.example/api/v3"
    named = _source("CodeStarSourceConnection", FullRepositoryId="Acme/App", RepositoryUrl="file:///srv/app.git")
    assert github_repository(named, api) == "Acme/App"
    assert github_repository(_source("GitHub", Owner="acme", Repo="app"), api) == "acme/app"
    on_github = _source("Git", RepositoryUrl="git@github.com:acme/tools.git")
    assert github_repository(on_github, api) == "acme/tools"
    on_enterprise = _source("Git", RepositoryUrl="https://git.corp.example/team/svc.git")
    assert github_repository(on_enterprise, enterprise) == "team/svc"
    assert github_repository(on_enterprise, api) is None
    assert github_repository(_source("Git", RepositoryUrl="https://gitlab.com/a/b.git"), enterprise) is None
    assert github_repository(_source("S3", S3Bucket="b", S3ObjectKey="k.zip"), api) is None
