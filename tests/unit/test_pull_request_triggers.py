"""GitHub pull_request events: parsing, the action → event mapping, and which source actions they start
(`conveyor.triggers.pull_request`, `conveyor.triggers.events`)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from conveyor.errors import InvalidRequest
from conveyor.pipeline.catalog import GitSource, git_source
from conveyor.pipeline.status import TriggerType
from conveyor.triggers import events
from conveyor.triggers.github import ChangedFilesNeeded, parse_push, push_payload
from conveyor.triggers.pull_request import PullRequestEvent, parse_pull_request, pull_request_starts
from tests.support.github import pull_request_payload

BASE = "b" * 40
HEAD = "c" * 40
CLONE_URL = "https://github.com/acme/app.git"


def source(**configuration: str) -> GitSource:
    return git_source({"FullRepositoryId": "acme/app", "BranchName": "main", **configuration})


def payload(action: str = "opened", **fields: Any) -> dict[str, Any]:
    return pull_request_payload("acme/app", CLONE_URL, 7, action, base_sha=BASE, head_sha=HEAD, **fields)


def pr(action: str = "opened", *, files: list[str] | None = None, **fields: Any) -> PullRequestEvent:
    event = parse_pull_request(payload(action, **fields))
    return event if files is None else replace(event, changed_files=frozenset(files))


def to(*includes: str, excludes: list[str] | None = None, **extra: Any) -> list[dict[str, Any]]:
    """One pull-request filter on base branches."""
    branches: dict[str, list[str]] = {"includes": list(includes)} if includes else {}
    if excludes:
        branches["excludes"] = excludes
    return [{"branches": branches, **extra}]


# --- parsing and the action → event mapping --------------------------------------------------------------------


def test_parse_reads_the_fields_conveyor_needs() -> None:
    event = pr("opened", base="release/2.0", head="feature/login", sender="mona")
    assert (event.action, event.number, event.event, event.webhook_event) == (
        "opened",
        7,
        "OPEN",
        "PULL_REQUEST_CREATED",
    )
    assert (event.base_branch, event.base_sha, event.head_branch, event.head_sha) == (
        "release/2.0",
        BASE,
        "feature/login",
        HEAD,
    )
    assert event.repository_keys == frozenset({"acme/app", "github.com/acme/app"})
    assert event.repository_name == event.head_repository == "acme/app"
    assert event.sender == "mona"
    assert event.changed_files is None  # a pull_request payload never lists files
    assert event.fetch_ref == "refs/pull/7/head"


@pytest.mark.parametrize(
    ("action", "merged", "expected"),
    [
        ("opened", False, ("OPEN", "PULL_REQUEST_CREATED")),
        ("reopened", False, ("OPEN", "PULL_REQUEST_REOPENED")),
        ("synchronize", False, ("UPDATED", "PULL_REQUEST_UPDATED")),
        ("closed", True, ("CLOSED", "PULL_REQUEST_MERGED")),
        ("closed", False, ("CLOSED", "PULL_REQUEST_CLOSED")),
        ("labeled", False, (None, None)),
        ("assigned", False, (None, None)),
        ("ready_for_review", False, (None, None)),
        ("review_requested", False, (None, None)),
    ],
)
def test_github_actions_map_to_trigger_and_codebuild_events(
    action: str, merged: bool, expected: tuple[str | None, str | None]
) -> None:
    event = pr(action, merged=merged)
    assert (event.event, event.webhook_event) == expected


def test_an_edit_updates_only_when_it_changed_the_base_branch() -> None:
    retargeted = pr("edited", changes={"base": {"ref": {"from": "develop"}, "sha": {"from": "d" * 40}}})
    retitled = pr("edited", changes={"title": {"from": "old title"}})
    assert (retargeted.event, retargeted.webhook_event) == ("UPDATED", "PULL_REQUEST_UPDATED")
    assert (retitled.event, retitled.webhook_event) == (None, None)


def test_a_fork_is_named_and_a_deleted_fork_leaves_the_head_repository_empty() -> None:
    assert pr(fork="mona/app").head_repository == "mona/app"
    deleted = payload()
    deleted["pull_request"]["head"]["repo"] = None
    assert parse_pull_request(deleted).head_repository == ""


@pytest.mark.parametrize("body", [None, [], "pull_request", 7])
def test_a_payload_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        parse_pull_request(body)


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("action",), "action"),
        (("number",), "number"),
        (("pull_request",), "pull_request"),
        (("pull_request", "base"), "pull_request.base"),
        (("pull_request", "head", "sha"), "pull_request.head.sha"),
        (("pull_request", "base", "ref"), "pull_request.base.ref"),
        (("repository",), "repository"),
    ],
)
def test_a_missing_field_is_named(path: tuple[str, ...], named: str) -> None:
    body = payload()
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    if path == ("number",):
        del body["pull_request"]["number"]
    with pytest.raises(InvalidRequest, match=f"lacks {named}"):
        parse_pull_request(body)


def test_a_number_that_is_not_an_integer_is_refused() -> None:
    body = payload()
    body["number"] = "7"
    with pytest.raises(InvalidRequest, match="number"):
        parse_pull_request(body)


def test_a_repository_without_a_name_is_refused() -> None:
    body = payload()
    body["repository"] = {"name": "app"}
    with pytest.raises(InvalidRequest, match="pull_request payload's repository"):
        parse_pull_request(body)


def test_an_event_survives_being_stored() -> None:
    for event in (pr(), pr("closed", merged=True, files=["src/a.py", "README.md"])):
        assert PullRequestEvent.from_record(json.loads(json.dumps(event.record()))) == event
        assert events.from_record(json.loads(json.dumps(events.record(event)))) == event


# --- which source actions a pull request starts ----------------------------------------------------------------


def test_a_source_without_a_pull_request_filter_never_starts_on_a_pull_request() -> None:
    assert not pull_request_starts(source(), None, pr())
    assert not pull_request_starts(source(), [], pr())
    push_only = {"sourceActionName": "Source", "push": [{"branches": {"includes": ["**"]}}]}
    assert not events.starts(source(), push_only, pr())
    assert not events.starts(source(), None, pr())


def test_branches_match_the_base_branch_not_the_head() -> None:
    filters = to("main")
    assert pull_request_starts(source(), filters, pr(base="main", head="feature"))
    assert not pull_request_starts(source(), filters, pr(base="feature", head="main"))


def test_branch_globs_and_excludes_win() -> None:
    filters = to("release/**", "main", excludes=["release/old/**"])
    assert pull_request_starts(source(), filters, pr(base="release/2.0"))
    assert pull_request_starts(source(), filters, pr(base="release/2/hotfix"))
    assert not pull_request_starts(source(), filters, pr(base="release/old/1.0"))
    assert not pull_request_starts(source(), filters, pr(base="develop"))


def test_only_excludes_match_every_other_base_branch() -> None:
    filters = to(excludes=["wip/*"])
    assert pull_request_starts(source(), filters, pr(base="develop"))
    assert not pull_request_starts(source(), filters, pr(base="wip/x"))


def test_a_filter_without_events_takes_all_three() -> None:
    for action, merged in (("opened", False), ("reopened", False), ("synchronize", False), ("closed", True)):
        assert pull_request_starts(source(), to("main"), pr(action, merged=merged))
    assert pull_request_starts(source(), to("main"), pr("closed", merged=False))


def test_events_limit_a_filter() -> None:
    filters = to("main", events=["OPEN", "CLOSED"])
    assert pull_request_starts(source(), filters, pr("opened"))
    assert pull_request_starts(source(), filters, pr("reopened"))
    assert pull_request_starts(source(), filters, pr("closed", merged=True))
    assert not pull_request_starts(source(), filters, pr("synchronize"))


def test_an_action_that_maps_to_no_event_starts_nothing_whatever_the_filter() -> None:
    assert not pull_request_starts(source(), to("**"), pr("labeled"))
    assert events.inert_reason(pr("labeled")) == "pull request action 'labeled' starts nothing"
    assert events.inert_reason(pr("opened")) is None


def test_filters_are_ored() -> None:
    filters = [*to("main", events=["CLOSED"]), *to("develop", events=["OPEN"])]
    assert pull_request_starts(source(), filters, pr("closed", base="main"))
    assert pull_request_starts(source(), filters, pr("opened", base="develop"))
    assert not pull_request_starts(source(), filters, pr("opened", base="main"))


def test_another_repository_starts_nothing() -> None:
    other = pull_request_payload(
        "acme/other", "https://github.com/acme/other.git", 1, "opened", base_sha=BASE, head_sha=HEAD
    )
    assert not pull_request_starts(source(), to("**"), parse_pull_request(other))


def test_file_paths_need_a_changed_file_included_and_not_excluded() -> None:
    filters = to("main", filePaths={"includes": ["src/**"], "excludes": ["**/*.md"]})
    assert pull_request_starts(source(), filters, pr(files=["src/app.py"]))
    assert pull_request_starts(source(), filters, pr(files=["src/README.md", "src/lib/x.py"]))
    assert not pull_request_starts(source(), filters, pr(files=["src/README.md"]))
    assert not pull_request_starts(source(), filters, pr(files=["docs/guide.txt"]))
    assert not pull_request_starts(source(), filters, pr(files=[]))


def test_file_paths_need_the_changed_files_only_once_event_and_branch_matched() -> None:
    filters = to("main", events=["OPEN"], filePaths={"includes": ["src/**"]})
    with pytest.raises(ChangedFilesNeeded):
        pull_request_starts(source(), filters, pr("opened"))
    assert not pull_request_starts(source(), filters, pr("opened", base="develop"))
    assert not pull_request_starts(source(), filters, pr("synchronize"))


# --- what an execution started by a pull request carries ------------------------------------------------------


def test_a_pull_request_starts_a_webhook_v2_execution_at_its_head() -> None:
    trigger_type, detail, revision = events.execution_start(pr("closed", merged=True, fork="mona/app"), "d-1")
    assert trigger_type is TriggerType.WEBHOOK_V2
    assert detail == (
        f"pull request #7 CLOSED (closed) from mona/app:feature into main at {HEAD[:12]} by octocat (delivery d-1)"
    )
    assert revision == {
        "commit": HEAD,
        "ref": "refs/pull/7/head",
        "actor": str(1000 + sum(map(ord, "octocat"))),
        "pull_request": {
            "number": 7,
            "event": "PULL_REQUEST_MERGED",
            "base_branch": "main",
            "head_branch": "feature",
        },
    }


def test_a_push_still_starts_a_webhook_execution_at_the_pushed_commit() -> None:
    trigger_type, detail, revision = events.execution_start(parse_push(push_payload("acme/app", CLONE_URL, HEAD)), "d")
    assert trigger_type is TriggerType.WEBHOOK
    assert detail.startswith("push of refs/heads/main")
    assert (revision["commit"], revision["ref"]) == (HEAD, "refs/heads/main")


def test_deliveries_record_the_pull_requests_ref_and_head() -> None:
    assert events.delivery_columns(pr()) == {
        "repository": "acme/app",
        "ref": "refs/pull/7/head",
        "head_commit": HEAD,
    }


def test_only_push_and_pull_request_deliveries_are_parsed() -> None:
    assert isinstance(events.parse_event("pull_request", payload()), PullRequestEvent)
    assert events.parse_event("issues", {"action": "opened"}) is None
    assert events.parse_event("pull_request_review", payload()) is None
