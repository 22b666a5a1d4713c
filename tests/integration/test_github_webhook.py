"""`POST /webhooks/github` against real SQL and Redis: signatures, events, deliveries recorded once."""

from __future__ import annotations

import io
import json

from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import func, select

from conveyor.db.models import Dispatch, PipelineExecution, WebhookDelivery
from conveyor.pipeline import definitions
from conveyor.queues import PIPELINE_QUEUE
from conveyor.runtime import Runtime
from conveyor.triggers.github import ZERO_SHA, push_payload
from tests.integration.conftest import deliver, signed
from tests.support.gitrepo import GitRepo
from tests.support.pipelines import as_yaml, pipeline

GITHUB_VECTOR_BODY = b"Hello, World!"
GITHUB_VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_githubs_published_signature_vector_is_accepted(client: FlaskClient) -> None:
    assert signed(GITHUB_VECTOR_BODY) == GITHUB_VECTOR_SIGNATURE
    response = client.post(
        "/webhooks/github",
        data=GITHUB_VECTOR_BODY,
        headers={
            "Content-Type": "application/json",
            "X-GitHub-Event": "push",
            "X-GitHub-Delivery": "vector-1",
            "X-Hub-Signature-256": GITHUB_VECTOR_SIGNATURE,
        },
    )
    # the signature passed: what fails is the body, which is not JSON
    assert response.status_code == 400
    assert "not valid JSON" in response.get_json()["message"]


def test_missing_or_wrong_signature_is_401_and_records_nothing(client: FlaskClient, rt: Runtime) -> None:
    body = json.dumps({"zen": "hi"}).encode()
    no_signature = client.post(
        "/webhooks/github",
        data=body,
        headers={"Content-Type": "application/json", "X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1"},
    )
    wrong = deliver(client, "ping", {"zen": "hi"}, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert no_signature.status_code == 401
    assert wrong.status_code == 401
    assert wrong.get_json()["error"] == "Unauthorized"
    assert count(rt, WebhookDelivery) == 0


def test_ping_is_200_and_unknown_events_204_and_both_are_recorded(client: FlaskClient, rt: Runtime) -> None:
    ping = deliver(client, "ping", {"zen": "Keep it logically awesome."}, delivery="ping-1")
    issue = deliver(client, "issues", {"action": "opened"}, delivery="issue-1")
    assert ping.status_code == 200
    assert ping.get_json()["status"] == "pong"
    assert issue.status_code == 204
    assert issue.data == b""
    with rt.db.session() as session:
        events = dict(session.execute(select(WebhookDelivery.delivery_id, WebhookDelivery.event)).all())
    assert events == {"ping-1": "ping", "issue-1": "issues"}


def test_bad_bodies_get_4xx_with_json(client: FlaskClient) -> None:
    malformed = deliver(client, "push", b"{not json")
    form_without_payload = deliver(client, "push", b"x=1", **{"Content-Type": "application/x-www-form-urlencoded"})
    wrong_type = deliver(client, "push", b"<xml/>", **{"Content-Type": "application/xml"})
    too_big = deliver(client, "push", b"{" + b" " * (25 * 1024 * 1024) + b"}")
    no_delivery_header = deliver(client, "push", {"a": 1}, **{"X-GitHub-Delivery": ""})
    assert malformed.status_code == 400
    assert form_without_payload.status_code == 400
    assert wrong_type.status_code == 415
    assert too_big.status_code == 413
    assert no_delivery_header.status_code == 400
    for response in (malformed, form_without_payload, wrong_type, too_big, no_delivery_header):
        assert response.is_json
        assert response.get_json()["message"]


def test_a_push_payload_missing_fields_is_400(client: FlaskClient) -> None:
    response = deliver(client, "push", {"ref": "refs/heads/main"})
    assert response.status_code == 400
    assert "after" in response.get_json()["message"]


def test_values_a_delivery_cannot_record_are_400_and_record_nothing(client: FlaskClient, rt: Runtime) -> None:
    # each would not fit its column (PostgreSQL refused them with a 500) or is no commit id
    push = push_payload("acme/app", "https://github.com/acme/app.git", "a" * 40)
    refused = {
        "the X-GitHub-Delivery header is longer than 100 characters": deliver(client, "push", push, "d" * 101),
        "the X-GitHub-Event header is longer than 64 characters": deliver(client, "e" * 65, push),
        "the push payload's after is not a commit id": deliver(client, "push", {**push, "after": "b" * 100}),
        "the push payload's ref is longer than 500 characters": deliver(
            client, "push", {**push, "ref": "refs/heads/" + "r" * 500}
        ),
        "the push payload's repository.full_name is longer than 500 characters": deliver(
            client, "push", {**push, "repository": {"full_name": "acme/" + "a" * 500}}
        ),
    }
    for message, response in refused.items():
        assert response.status_code == 400, message
        assert message in response.get_json()["message"]
    assert count(rt, WebhookDelivery) == 0
    accepted = deliver(client, "push", {**push, "after": "c" * 64}, "d" * 100)  # a SHA-256 repository's commit id
    assert accepted.status_code == 200  # recorded; no pipeline starts on it
    assert count(rt, WebhookDelivery) == 1


def test_a_chunked_body_over_25_mb_is_413_not_cut_short(client: FlaskClient, rt: Runtime) -> None:
    body = json.dumps({"zen": "z" * (25 * 1024 * 1024)}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "chunked-1",
        "Transfer-Encoding": "chunked",
        "X-Hub-Signature-256": signed(body),
    }
    # no Content-Length, a server that ends the stream itself: as gunicorn hands a chunked request over
    response = client.post(
        "/webhooks/github",
        input_stream=io.BytesIO(body),
        headers=headers,
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413  # werkzeug alone stops reading at the limit: the signature then fails (401)
    assert response.is_json
    assert count(rt, WebhookDelivery) == 0


def test_push_starts_matching_pipelines_and_enqueues_their_advance(
    client: FlaskClient, rt: Runtime, repo: GitRepo
) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("web-app", repo.url)))
    definitions.create_pipeline(
        rt, as_yaml(pipeline("other-repo", "https://github.com/acme/other.git", repository_id="acme/other"))
    )
    response = deliver(client, "push", push_payload("acme/app", "https://github.com/acme/app.git", repo.head()))
    assert response.status_code == 202
    [execution_id] = response.get_json()["executionIds"]
    with rt.db.session() as session:
        execution = session.get(PipelineExecution, execution_id)
        assert execution is not None
        assert execution.pipeline.name == "web-app"
        assert execution.trigger_type == "Webhook"
        revision = execution.source_revisions["Source"]
        assert (revision["commit"], revision["ref"]) == (repo.head(), "refs/heads/main")
        dispatch = session.scalars(select(Dispatch)).one()
    assert (dispatch.kind, dispatch.subject_id) == ("pipeline.advance", execution_id)
    assert Queue(PIPELINE_QUEUE, connection=rt.redis).job_ids == [dispatch.job_id]


def test_form_encoded_push_is_accepted(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    from urllib.parse import urlencode

    definitions.create_pipeline(rt, as_yaml(pipeline("form", repo.url)))
    body = urlencode({"payload": json.dumps(push_payload("acme/app", repo.url, repo.head()))}).encode()
    response = deliver(client, "push", body, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 202


def test_a_redelivery_answers_200_and_starts_nothing(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("once", repo.url)))
    payload = push_payload("acme/app", repo.url, repo.head())
    first = deliver(client, "push", payload, delivery="same-delivery")
    again = deliver(client, "push", payload, delivery="same-delivery")
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.get_json()["status"] == "duplicate"
    assert count(rt, PipelineExecution) == 1
    assert count(rt, WebhookDelivery) == 1


def test_other_branches_tags_and_deletions_start_nothing(client: FlaskClient, rt: Runtime, repo: GitRepo) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("main-only", repo.url)))
    sha = repo.head()
    other_branch = deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/heads/feature"))
    tag = deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/tags/v1.0"))
    deletion = deliver(client, "push", push_payload("acme/app", repo.url, ZERO_SHA, before=sha))
    for response in (other_branch, tag, deletion):
        assert response.status_code == 200
        assert response.get_json()["executionIds"] == []
    assert count(rt, PipelineExecution) == 0


def test_a_tag_push_starts_a_pipeline_whose_trigger_asks_for_tags(
    client: FlaskClient, rt: Runtime, repo: GitRepo
) -> None:
    trigger = {
        "providerType": "CodeStarSourceConnection",
        "gitConfiguration": {
            "sourceActionName": "Source",
            "push": [{"tags": {"includes": ["v*"], "excludes": ["v*-rc*"]}}],
        },
    }
    definitions.create_pipeline(rt, as_yaml(pipeline("release", repo.url, triggers=[trigger])))
    sha = repo.head()
    release = deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/tags/v2.0"))
    candidate = deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/tags/v2.1-rc1"))
    branch = deliver(client, "push", push_payload("acme/app", repo.url, sha, ref="refs/heads/main"))
    assert release.status_code == 202
    assert candidate.status_code == 200
    assert branch.status_code == 200  # the trigger replaced plain branch change detection
    assert count(rt, PipelineExecution) == 1


def test_no_secret_configured_refuses_every_delivery(client: FlaskClient, app) -> None:
    import dataclasses

    runtime = app.extensions["conveyor"]
    runtime.settings = dataclasses.replace(runtime.settings, github_webhook_secret="")
    response = deliver(client, "ping", {"zen": "x"})
    assert response.status_code == 401
    assert "CONVEYOR_GITHUB_WEBHOOK_SECRET" in response.get_json()["message"]
