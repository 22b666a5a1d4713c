"""GitHub webhooks, pure: the signature check, the push event, and which source actions a push starts.

Matching rules for a push (CodePipeline's change detection, §3.3):

* a branch deletion (`deleted`, or `after` all zeros) starts nothing;
* a source action with a V2 trigger starts when any of its push filters matches: a filter's `branches` or `tags`
  (globs, excludes win) must match the pushed ref, and with `filePaths` at least one changed file must be included
  and not excluded (so a push that changes only excluded files starts nothing);
* the changed files are those the payload's commits list; a payload of 20 commits or more may be cut short, so
  then they are unknown here (`ChangedFilesNeeded`) and are read from git by a job;
* a source action without a trigger starts on pushes to its `BranchName` (unless `DetectChanges` is false);
  tag pushes never start it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass
from typing import Any

from conveyor.errors import InvalidRequest
from conveyor.globs import filter_matches
from conveyor.pipeline.catalog import GitSource, repository_key

ZERO_SHA = "0" * 40
MAX_LISTED_COMMITS = 20  # a payload with this many commits may not list them all


class ChangedFilesNeeded(Exception):
    """A filter on file paths, for an event whose payload does not (or may not) list every changed file."""


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature-256` over the raw body, in constant time."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


@dataclass(frozen=True)
class PushEvent:
    ref: str
    before: str
    after: str
    deleted: bool
    repository_keys: frozenset[str]
    repository_name: str
    head_message: str | None
    pusher: str
    sender_id: str = ""
    changed_files: frozenset[str] | None = None  # None: the payload may not list them all

    def record(self) -> dict[str, Any]:
        """The event as JSON, to be read back by `from_record`."""
        return event_record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> PushEvent:
        return cls(**event_fields(data))

    @property
    def is_tag(self) -> bool:
        return self.ref.startswith("refs/tags/")

    @property
    def is_branch(self) -> bool:
        return self.ref.startswith("refs/heads/")

    @property
    def short_ref(self) -> str:
        return self.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")


def parse_push(payload: Any) -> PushEvent:
    """Read the fields Conveyor needs from a push payload; InvalidRequest names what is missing."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the push payload must be a JSON object")
    missing = [key for key in ("ref", "after", "repository") if key not in payload]
    if missing:
        raise InvalidRequest(f"the push payload lacks {', '.join(missing)}")
    if not isinstance(payload["ref"], str) or not payload["ref"].startswith("refs/"):
        raise InvalidRequest("the push payload's ref is not a full ref name (refs/heads/… or refs/tags/…)")
    repository = payload["repository"] if isinstance(payload["repository"], dict) else {}
    keys = repository_keys_of(repository, "push")
    after = str(payload["after"] or "")
    head = payload.get("head_commit") if isinstance(payload.get("head_commit"), dict) else None
    pusher: dict[str, Any] = payload["pusher"] if isinstance(payload.get("pusher"), dict) else {}
    sender: dict[str, Any] = payload["sender"] if isinstance(payload.get("sender"), dict) else {}
    return PushEvent(
        ref=str(payload["ref"]),
        before=str(payload.get("before") or ""),
        after=after,
        deleted=bool(payload.get("deleted")) or after in (ZERO_SHA, ""),
        repository_keys=keys,
        repository_name=str(repository.get("full_name") or repository.get("name") or ""),
        head_message=str(head.get("message")) if head else None,
        pusher=str(pusher.get("name") or ""),
        sender_id=str(sender.get("id") or ""),
        changed_files=_changed_files(payload.get("commits")),
    )


def repository_keys_of(repository: dict[str, Any], event: str) -> frozenset[str]:
    """The keys (see `repository_key`) of every name a payload's `repository` gives; InvalidRequest when none."""
    names = [repository.get(k) for k in ("full_name", "clone_url", "ssh_url", "git_url", "html_url", "url")]
    keys = frozenset(repository_key(str(n)) for n in names if isinstance(n, str) and n)
    if not keys:
        raise InvalidRequest(f"the {event} payload's repository has no full_name or clone_url")
    return keys


def _changed_files(commits: Any) -> frozenset[str] | None:
    """The files the payload's commits add, modify or remove; None when the list may be incomplete."""
    if not isinstance(commits, list) or len(commits) >= MAX_LISTED_COMMITS:
        return None
    return frozenset(
        path
        for commit in commits
        if isinstance(commit, dict)
        for key in ("added", "modified", "removed")
        if isinstance(commit.get(key), list)
        for path in commit[key]
        if isinstance(path, str)
    )


def push_starts(source: GitSource, push_filters: list[dict[str, Any]] | None, event: PushEvent) -> bool:
    """Whether this push starts a source action with this configuration and these V2 push filters.

    Raises ChangedFilesNeeded when the answer depends on changed files the payload may not have listed.
    """
    if event.deleted or not (source.repository_keys() & event.repository_keys):
        return False
    if push_filters is not None:
        return any(_filter_matches(f, event) for f in push_filters)
    return source.detect_changes and event.is_branch and event.short_ref == source.branch


def _filter_matches(push_filter: dict[str, Any], event: PushEvent) -> bool:
    criteria = push_filter.get("tags") if event.is_tag else push_filter.get("branches") if event.is_branch else None
    if criteria is None or not filter_matches(event.short_ref, criteria.get("includes"), criteria.get("excludes")):
        return False
    return paths_match(push_filter.get("filePaths"), event.changed_files)


def paths_match(paths: dict[str, Any] | None, changed_files: frozenset[str] | None) -> bool:
    """Whether a `filePaths` criterion (none: always) has a changed file included and not excluded.

    Raises ChangedFilesNeeded when there is a criterion and the changed files are not known yet.
    """
    if paths is None:
        return True
    if changed_files is None:
        raise ChangedFilesNeeded
    includes, excludes = paths.get("includes"), paths.get("excludes")
    return any(filter_matches(path, includes, excludes) for path in changed_files)


def push_payload(
    full_name: str,
    clone_url: str,
    after: str,
    *,
    ref: str = "refs/heads/main",
    before: str = ZERO_SHA,
    message: str = "",
    pusher: str = "conveyor",
    changed: list[str] | None = None,
) -> dict[str, Any]:
    """A push payload shaped as GitHub sends it (the fields Conveyor reads), for the demo and the tests."""
    owner, _, name = full_name.partition("/")
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": after == ZERO_SHA,
        "forced": False,
        "repository": {"name": name, "full_name": full_name, "owner": {"login": owner}, "clone_url": clone_url},
        "pusher": {"name": pusher},
        "sender": {"login": pusher, "id": 1000 + sum(map(ord, pusher))},
        "head_commit": None if after == ZERO_SHA else {"id": after, "message": message},
        "commits": [] if after == ZERO_SHA else [{"id": after, "message": message, "modified": changed or []}],
    }


def event_record(event: Any) -> dict[str, Any]:
    """A trigger event (a dataclass with `repository_keys` and `changed_files` sets) as JSON."""
    data: dict[str, Any] = asdict(event)
    data["repository_keys"] = sorted(event.repository_keys)
    data["changed_files"] = None if event.changed_files is None else sorted(event.changed_files)
    return data


def event_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments of the event `event_record` wrote."""
    files = data.get("changed_files")
    return {
        **{k: v for k, v in data.items() if k not in ("repository_keys", "changed_files")},
        "repository_keys": frozenset(data["repository_keys"]),
        "changed_files": None if files is None else frozenset(files),
    }
