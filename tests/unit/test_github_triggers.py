"""GitHub webhooks: signature, push parsing, and which source actions a push starts (`conveyor.triggers.github`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.db.models import WebhookDelivery
from conveyor.errors import InvalidRequest
from conveyor.pipeline.catalog import GitSource, git_source
from conveyor.triggers import events
from conveyor.triggers.github import (
    MAX_LISTED_COMMITS,
    ZERO_SHA,
    ChangedFilesNeeded,
    PushEvent,
    parse_push,
    push_payload,
    push_starts,
    signature,
    verify_signature,
)
from handlers.github import HEADER_LENGTHS

SECRET = b"It's a Secret to Everybody"
BODY = b"Hello, World!"
GITHUB_TEST_VECTOR = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
COMMIT = "a" * 40
CLONE_URL = "https://github.com/acme/app.git"


def source(**configuration: str) -> GitSource:
    return git_source({"FullRepositoryId": "acme/app", "BranchName": "main", **configuration})


def push(ref: str = "refs/heads/main", *, after: str = COMMIT, full_name: str = "acme/app", **repository: str) -> Any:
    payload = push_payload(full_name, CLONE_URL, after, ref=ref)
    payload["repository"].update(repository)
    return parse_push(payload)


def globs(includes: list[str] | None = None, excludes: list[str] | None = None) -> dict[str, list[str]]:
    criteria: dict[str, list[str]] = {}
    if includes:
        criteria["includes"] = includes
    if excludes:
        criteria["excludes"] = excludes
    return criteria


# --- signature -------------------------------------------------------------------------------------------------


def test_signature_matches_githubs_published_test_vector() -> None:
    assert signature(SECRET, BODY) == GITHUB_TEST_VECTOR
    assert verify_signature(SECRET, BODY, GITHUB_TEST_VECTOR)


def test_signature_header_may_carry_surrounding_whitespace() -> None:
    assert verify_signature(SECRET, BODY, f" {GITHUB_TEST_VECTOR}\r\n")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        GITHUB_TEST_VECTOR.removeprefix("sha256="),
        GITHUB_TEST_VECTOR[:-1] + "0",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        signature(b"another secret", BODY),
        "sha256=é",
    ],
)
def test_wrong_or_missing_signatures_are_rejected(header: str | None) -> None:
    assert not verify_signature(SECRET, BODY, header)


def test_a_changed_body_is_rejected() -> None:
    assert not verify_signature(SECRET, b"Hello, World?", GITHUB_TEST_VECTOR)


def test_an_empty_secret_rejects_everything_even_its_own_signature() -> None:
    assert not verify_signature(b"", BODY, signature(b"", BODY))


# --- parse_push ------------------------------------------------------------------------------------------------


def test_parse_push_reads_the_fields_conveyor_needs() -> None:
    payload = push_payload("acme/app", CLONE_URL, COMMIT, ref="refs/heads/dev", message="fix it", pusher="mona")
    event = parse_push(payload)
    assert (event.ref, event.after, event.before) == ("refs/heads/dev", COMMIT, ZERO_SHA)
    assert not event.deleted
    assert event.is_branch
    assert not event.is_tag
    assert event.short_ref == "dev"
    assert event.repository_name == "acme/app"
    assert event.repository_keys == frozenset({"acme/app", "github.com/acme/app"})
    assert event.head_message == "fix it"
    assert event.pusher == "mona"


def test_parse_push_reads_a_tag_push() -> None:
    event = push("refs/tags/v1.2.0")
    assert event.is_tag
    assert not event.is_branch
    assert event.short_ref == "v1.2.0"


@pytest.mark.parametrize("payload", [None, [], "push", 42])
def test_parse_push_rejects_a_payload_that_is_not_an_object(payload: Any) -> None:
    with pytest.raises(InvalidRequest, match="JSON object"):
        parse_push(payload)


@pytest.mark.parametrize("missing", ["ref", "after", "repository"])
def test_parse_push_names_a_missing_field(missing: str) -> None:
    payload = push_payload("acme/app", CLONE_URL, COMMIT)
    del payload[missing]
    with pytest.raises(InvalidRequest, match=missing):
        parse_push(payload)


@pytest.mark.parametrize("repository", [{}, {"name": "app"}, "acme/app", None])
def test_parse_push_rejects_a_repository_without_a_name_to_match(repository: Any) -> None:
    payload = push_payload("acme/app", CLONE_URL, COMMIT)
    payload["repository"] = repository
    with pytest.raises(InvalidRequest, match="repository"):
        parse_push(payload)


def test_invalid_request_is_an_http_400() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_push([])
    assert info.value.status_code == 400


# --- push_starts: default change detection ---------------------------------------------------------------------


def test_a_push_to_the_configured_branch_starts_the_source() -> None:
    assert push_starts(source(), None, push("refs/heads/main"))


def test_a_push_to_another_branch_does_not_start_the_source() -> None:
    assert not push_starts(source(), None, push("refs/heads/dev"))
    assert not push_starts(source(), None, push("refs/heads/main2"))


@pytest.mark.parametrize("after", [ZERO_SHA, ""])
def test_a_branch_deletion_never_starts(after: str) -> None:
    assert not push_starts(source(), None, push("refs/heads/main", after=after))
    trigger = [{"branches": globs(["**"])}]
    assert not push_starts(source(), trigger, push("refs/heads/main", after=after))


def test_a_push_marked_deleted_never_starts_even_with_a_commit() -> None:
    payload = push_payload("acme/app", CLONE_URL, COMMIT)
    payload["deleted"] = True
    event = parse_push(payload)
    assert event.deleted
    assert not push_starts(source(), None, event)


def test_a_tag_push_never_starts_a_source_without_a_trigger() -> None:
    assert not push_starts(source(), None, push("refs/tags/main"))
    assert not push_starts(source(BranchName="v1"), None, push("refs/tags/v1"))


def test_detect_changes_false_starts_nothing() -> None:
    assert not push_starts(source(DetectChanges="false"), None, push("refs/heads/main"))


def test_a_pull_request_ref_does_not_start_the_source() -> None:
    assert not push_starts(source(), None, push("refs/pull/1/head"))


# --- push_starts: repository matching --------------------------------------------------------------------------


def test_the_repository_matches_by_full_name_alone() -> None:
    event = parse_push(
        {"ref": "refs/heads/main", "after": COMMIT, "repository": {"full_name": "Acme/App"}},
    )
    assert push_starts(source(), None, event)


def test_the_repository_matches_by_clone_url() -> None:
    mirror = source(FullRepositoryId="", RepositoryUrl="https://git.example.com/acme/app.git")
    event = parse_push(
        {"ref": "refs/heads/main", "after": COMMIT, "repository": {"clone_url": "https://git.example.com/acme/app"}}
    )
    assert push_starts(mirror, None, event)


def test_the_repository_matches_by_ssh_url() -> None:
    local = source(FullRepositoryId="", RepositoryUrl="ssh://git@git.example.com/acme/app.git")
    event = parse_push(
        {"ref": "refs/heads/main", "after": COMMIT, "repository": {"ssh_url": "git@git.example.com:acme/app.git"}}
    )
    assert push_starts(local, None, event)


def test_the_repository_matches_by_an_alias() -> None:
    aliased = source(FullRepositoryId="", RepositoryUrl="/srv/git/app.git", RepositoryAliases="corp/app-mirror")
    assert push_starts(aliased, None, push(full_name="corp/app-mirror"))


def test_another_repository_does_not_start_the_source() -> None:
    event = parse_push(
        {
            "ref": "refs/heads/main",
            "after": COMMIT,
            "repository": {"full_name": "acme/other", "clone_url": "https://github.com/acme/other.git"},
        }
    )
    assert not push_starts(source(), None, event)
    assert not push_starts(source(), [{"branches": globs(["**"])}], event)


# --- push_starts: V2 trigger filters ---------------------------------------------------------------------------


def test_a_trigger_tag_filter_starts_on_matching_tags() -> None:
    trigger = [{"tags": globs(["v*"], ["v*-rc*"])}]
    assert push_starts(source(), trigger, push("refs/tags/v1.0"))
    assert not push_starts(source(), trigger, push("refs/tags/v1.0-rc1"))
    assert not push_starts(source(), trigger, push("refs/tags/release-1"))


def test_a_trigger_tag_filter_ignores_branch_pushes() -> None:
    trigger = [{"tags": globs(["**"])}]
    assert not push_starts(source(), trigger, push("refs/heads/main"))


def test_a_trigger_branch_filter_starts_on_matching_branches_only() -> None:
    trigger = [{"branches": globs(["release/**", "main"], ["release/old/**"])}]
    assert push_starts(source(), trigger, push("refs/heads/release/1.0"))
    assert push_starts(source(), trigger, push("refs/heads/main"))
    assert not push_starts(source(), trigger, push("refs/heads/release/old/0.9"))
    assert not push_starts(source(), trigger, push("refs/heads/feature/x"))
    assert not push_starts(source(), trigger, push("refs/tags/release/1.0"))


def test_a_trigger_branch_filter_replaces_the_configured_branch() -> None:
    trigger = [{"branches": globs(["dev"])}]
    assert push_starts(source(), trigger, push("refs/heads/dev"))
    assert not push_starts(source(), trigger, push("refs/heads/main"))


def test_a_trigger_filter_with_only_excludes_matches_everything_else() -> None:
    trigger = [{"branches": globs(excludes=["wip/**"])}]
    assert push_starts(source(), trigger, push("refs/heads/feature/x"))
    assert not push_starts(source(), trigger, push("refs/heads/wip/x"))


def test_trigger_filters_are_ored() -> None:
    trigger = [{"branches": globs(["main"])}, {"tags": globs(["v*"])}]
    assert push_starts(source(), trigger, push("refs/heads/main"))
    assert push_starts(source(), trigger, push("refs/tags/v2"))
    assert not push_starts(source(), trigger, push("refs/heads/dev"))


def test_a_trigger_without_push_filters_starts_nothing_on_push() -> None:
    assert not push_starts(source(), [], push("refs/heads/main"))
    assert not push_starts(source(), [], push("refs/tags/v1"))


# --- push_starts: file paths -----------------------------------------------------------------------------------


def changed(*paths: str, commits: int = 1) -> Any:
    payload = push_payload("acme/app", CLONE_URL, COMMIT)
    payload["commits"] = [{"id": COMMIT, "added": [], "modified": [], "removed": []} for _ in range(commits)]
    payload["commits"][0].update({"added": list(paths[:1]), "modified": list(paths[1:2]), "removed": list(paths[2:])})
    return parse_push(payload)


def test_the_changed_files_are_what_the_commits_add_modify_and_remove() -> None:
    assert changed("a.txt", "b/c.py", "d.md", "e").changed_files == {"a.txt", "b/c.py", "d.md", "e"}
    assert changed().changed_files == frozenset()


def test_a_payload_that_may_be_cut_short_leaves_the_changed_files_unknown() -> None:
    assert changed("a.txt", commits=MAX_LISTED_COMMITS - 1).changed_files == {"a.txt"}
    assert changed("a.txt", commits=MAX_LISTED_COMMITS).changed_files is None
    no_commits = push_payload("acme/app", CLONE_URL, COMMIT)
    del no_commits["commits"]
    assert parse_push(no_commits).changed_files is None


def test_a_file_path_filter_needs_one_changed_file_included_and_not_excluded() -> None:
    trigger = [{"branches": globs(["main"]), "filePaths": globs(["src/**"], ["**/*.md"])}]
    assert push_starts(source(), trigger, changed("src/app.py"))
    assert push_starts(source(), trigger, changed("src/README.md", "src/lib/x.py"))
    assert not push_starts(source(), trigger, changed("src/README.md"))  # only excluded files changed
    assert not push_starts(source(), trigger, changed("docs/guide.txt"))
    assert not push_starts(source(), trigger, changed())


def test_excludes_alone_start_on_any_other_file() -> None:
    trigger = [{"branches": globs(["main"]), "filePaths": globs(excludes=["docs/**"])}]
    assert push_starts(source(), trigger, changed("docs/a.md", "Makefile"))
    assert not push_starts(source(), trigger, changed("docs/a.md", "docs/b/c.md"))


def test_unknown_changed_files_are_needed_only_once_the_branch_matched() -> None:
    trigger = [{"branches": globs(["main"]), "filePaths": globs(["src/**"])}]
    with pytest.raises(ChangedFilesNeeded):
        push_starts(source(), trigger, changed("x", commits=MAX_LISTED_COMMITS))
    other_branch = push_payload("acme/app", CLONE_URL, COMMIT, ref="refs/heads/dev")
    other_branch["commits"] = [{"id": COMMIT}] * MAX_LISTED_COMMITS
    assert not push_starts(source(), trigger, parse_push(other_branch))


def test_a_push_event_survives_being_stored() -> None:
    event = changed("src/a.py", "b")
    assert PushEvent.from_record(json.loads(json.dumps(event.record()))) == event
    unknown = changed(commits=MAX_LISTED_COMMITS)
    assert PushEvent.from_record(json.loads(json.dumps(unknown.record()))) == unknown


def test_the_limits_a_delivery_checks_are_those_of_its_columns() -> None:
    columns = WebhookDelivery.__table__.c
    assert {name: columns[name].type.length for name in events.RECORDED_LENGTHS} == events.RECORDED_LENGTHS
    assert {
        "X-GitHub-Event": columns.event.type.length,
        "X-GitHub-Delivery": columns.delivery_id.type.length,
    } == HEADER_LENGTHS
    assert columns.head_commit.type.length == 64  # the longest commit id, SHA-256's


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"after": "not-a-sha"}, "the push payload's after is not a commit id (40 or 64 hexadecimal digits)"),
        ({"after": "A" * 40}, "the push payload's after is not a commit id"),
        ({"ref": "refs/heads/" + "x" * 490}, "the push payload's ref is longer than 500 characters"),
        ({"ref": 5}, "the push payload's ref is not a full ref name (refs/heads/… or refs/tags/…)"),
        ({"ref": "main"}, "the push payload's ref is not a full ref name"),
    ],
)
def test_a_push_no_github_would_send_is_refused(change: dict[str, Any], message: str) -> None:
    payload = {**push_payload("acme/app", "https://github.com/acme/app.git", "a" * 40), **change}

    with pytest.raises(InvalidRequest) as refused:
        events.parse_event("push", payload)

    assert message in refused.value.message


def test_a_deletion_and_a_sha256_commit_are_commit_ids() -> None:
    for after in (ZERO_SHA, "f" * 64):
        payload = push_payload("acme/app", "https://github.com/acme/app.git", after)
        assert events.parse_event("push", payload) is not None
