"""GitHub `pull_request` events, pure: what happened to the pull request, and which source actions it starts.

GitHub's `action` becomes one of CodePipeline's pull-request trigger events, and CodeBuild's webhook event:

| GitHub action | trigger event | CODEBUILD_WEBHOOK_EVENT |
|---|---|---|
| `opened` | OPEN | PULL_REQUEST_CREATED |
| `reopened` | OPEN | PULL_REQUEST_REOPENED |
| `synchronize` (new commits on the head) | UPDATED | PULL_REQUEST_UPDATED |
| `edited` that changed the base branch | UPDATED | PULL_REQUEST_UPDATED |
| `closed`, merged | CLOSED | PULL_REQUEST_MERGED |
| `closed`, not merged | CLOSED | PULL_REQUEST_CLOSED |

Every other action (`labeled`, `assigned`, an `edited` title or body, `ready_for_review`, …) starts nothing.

Matching rules (§3.3): a source action starts only through a V2 trigger with `pullRequest` filters (a source
without one never starts on a pull request); a filter matches when its `events` (all three when absent) hold the
event, its `branches` (globs, excludes win) match the pull request's base branch, and, with `filePaths`, some file
the pull request changes is included and not excluded. Those files are never in the payload: they are unknown here
(`ChangedFilesNeeded`) and read from git by a job, from the merge base of base and head to the head (the files
GitHub shows for a pull request). The execution runs the pull request's head commit, for every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.errors import InvalidRequest
from conveyor.globs import filter_matches
from conveyor.pipeline.catalog import GitSource
from conveyor.triggers.github import event_fields, event_record, paths_match, repository_keys_of

EVENTS = ("OPEN", "UPDATED", "CLOSED")  # a filter without `events` takes all three

_ACTIONS = {
    "opened": ("OPEN", "PULL_REQUEST_CREATED"),
    "reopened": ("OPEN", "PULL_REQUEST_REOPENED"),
    "synchronize": ("UPDATED", "PULL_REQUEST_UPDATED"),
}


@dataclass(frozen=True)
class PullRequestEvent:
    action: str  # GitHub's
    number: int
    event: str | None  # OPEN | UPDATED | CLOSED, or None when the action starts nothing
    webhook_event: str | None  # CodeBuild's name for it (PULL_REQUEST_CREATED, …)
    base_branch: str
    base_sha: str
    head_branch: str
    head_sha: str
    head_repository: str  # owner/name of the head's repository: a fork's, or the base repository's
    repository_keys: frozenset[str]
    repository_name: str
    sender: str
    sender_id: str = ""
    changed_files: frozenset[str] | None = None  # never in the payload; read from git when a filter needs them

    @property
    def fetch_ref(self) -> str:
        """The ref of the base repository that holds the head commit, fork or not (GitHub keeps it after closing)."""
        return f"refs/pull/{self.number}/head"

    def record(self) -> dict[str, Any]:
        """The event as JSON, to be read back by `from_record`."""
        return event_record(self)

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> PullRequestEvent:
        return cls(**event_fields(data))


def parse_pull_request(payload: Any) -> PullRequestEvent:
    """Read the fields Conveyor needs from a pull_request payload; InvalidRequest names what is missing."""
    if not isinstance(payload, dict):
        raise InvalidRequest("the pull_request payload must be a JSON object")
    pull = _mapping(payload, "pull_request")
    base, head = _mapping(pull, "base", "pull_request."), _mapping(pull, "head", "pull_request.")
    number = payload.get("number", pull.get("number"))
    _require(payload, number, base, head)
    assert isinstance(number, int)
    repository = _mapping(payload, "repository")
    head_repository = head.get("repo")  # null when the fork was deleted
    sender: dict[str, Any] = payload["sender"] if isinstance(payload.get("sender"), dict) else {}
    event, webhook_event = _event_of(payload["action"], payload, pull)
    return PullRequestEvent(
        action=payload["action"],
        number=number,
        event=event,
        webhook_event=webhook_event,
        base_branch=base["ref"].removeprefix("refs/heads/"),
        base_sha=base["sha"],
        head_branch=head["ref"].removeprefix("refs/heads/"),
        head_sha=head["sha"],
        head_repository=str(head_repository.get("full_name") or "") if isinstance(head_repository, dict) else "",
        repository_keys=repository_keys_of(repository, "pull_request"),
        repository_name=str(repository.get("full_name") or repository.get("name") or ""),
        sender=str(sender.get("login") or ""),
        sender_id=str(sender.get("id") or ""),
    )


def _mapping(data: dict[str, Any], key: str, prefix: str = "") -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise InvalidRequest(f"the pull_request payload lacks {prefix}{key}")
    return value


def _require(payload: dict[str, Any], number: Any, base: dict[str, Any], head: dict[str, Any]) -> None:
    """Raise InvalidRequest naming every field a pull_request payload lacks."""
    missing = [] if isinstance(payload.get("action"), str) else ["action"]
    if not isinstance(number, int) or isinstance(number, bool):
        missing.append("number")
    missing += [
        f"pull_request.{side}.{key}"
        for side, part in (("base", base), ("head", head))
        for key in ("ref", "sha")
        if not isinstance(part.get(key), str) or not part[key]
    ]
    if missing:
        raise InvalidRequest(f"the pull_request payload lacks {', '.join(missing)}")


def _event_of(action: str, payload: dict[str, Any], pull: dict[str, Any]) -> tuple[str | None, str | None]:
    """(trigger event, CodeBuild webhook event) of a GitHub action; (None, None) for one that starts nothing."""
    if action in _ACTIONS:
        return _ACTIONS[action]
    if action == "closed":
        return "CLOSED", "PULL_REQUEST_MERGED" if pull.get("merged") is True else "PULL_REQUEST_CLOSED"
    changes = payload.get("changes")
    if action == "edited" and isinstance(changes, dict) and "base" in changes:  # retargeted: another diff
        return "UPDATED", "PULL_REQUEST_UPDATED"
    return None, None


def pull_request_starts(
    source: GitSource, pull_request_filters: list[dict[str, Any]] | None, event: PullRequestEvent
) -> bool:
    """Whether this pull request event starts a source action with these V2 `pullRequest` filters (None: no trigger).

    Raises ChangedFilesNeeded when the answer depends on the files the pull request changes.
    """
    if event.event is None or not pull_request_filters:
        return False
    if not (source.repository_keys() & event.repository_keys):
        return False
    return any(_filter_matches(f, event) for f in pull_request_filters)


def _filter_matches(pull_request_filter: dict[str, Any], event: PullRequestEvent) -> bool:
    if event.event not in pull_request_filter.get("events", EVENTS):
        return False
    branches = pull_request_filter.get("branches") or {}
    if not filter_matches(event.base_branch, branches.get("includes"), branches.get("excludes")):
        return False
    return paths_match(pull_request_filter.get("filePaths"), event.changed_files)
