"""The GitHub events that start pipelines — `push` and `pull_request` — as the trigger service sees them. Pure.

Both go the same way through `conveyor.triggers.service`: parse, decide which source actions start (a V2 trigger's
`gitConfiguration` replaces a source's default change detection), record the delivery, start executions. This
module holds what differs between them: the matching rules, what the delivery row records, and what an execution
started by each carries:

* a push starts a `Webhook` execution at the pushed commit, its revision naming the ref and the commit before;
* a pull request starts a `WebhookV2` execution at the pull request's head commit, its revision naming
  `refs/pull/<n>/head` (where the head can be fetched from the base repository, fork or not) and the pull request
  (number, CodeBuild's event name, base and head branches).
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.errors import InvalidRequest
from conveyor.pipeline.catalog import GitSource
from conveyor.pipeline.status import TriggerType
from conveyor.triggers.github import PushEvent, parse_push, push_starts
from conveyor.triggers.pull_request import PullRequestEvent, parse_pull_request, pull_request_starts

TriggerEvent = PushEvent | PullRequestEvent

# The longest values a delivery records (`WebhookDelivery`'s columns): GitHub's names are far shorter (an owner has at
# most 39 characters, a repository 100), so a payload with longer ones is refused rather than cut.
RECORDED_LENGTHS = {"repository": 500, "ref": 500}
_COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")  # SHA-1 or SHA-256, as git writes them


def parse_event(event: str, payload: Any) -> TriggerEvent | None:
    """The event of a delivery that may start pipelines; None for the kinds that never do (ping, issues, …).
    InvalidRequest names what a payload lacks, or holds that no GitHub payload would."""
    parsed: TriggerEvent
    if event == "push":
        parsed = parse_push(payload)
    elif event == "pull_request":
        parsed = parse_pull_request(payload)
    else:
        return None
    _check_recorded(event, parsed)
    return parsed


def _check_recorded(event: str, parsed: TriggerEvent) -> None:
    columns = delivery_columns(parsed)
    head_field = "after" if isinstance(parsed, PushEvent) else "pull_request.head.sha"
    head = columns["head_commit"]
    if head and not _COMMIT_ID.match(head):
        raise InvalidRequest(f"the {event} payload's {head_field} is not a commit id (40 or 64 hexadecimal digits)")
    for column, longest in RECORDED_LENGTHS.items():
        if len(columns[column]) > longest:
            name = "repository.full_name" if column == "repository" else column
            raise InvalidRequest(f"the {event} payload's {name} is longer than {longest} characters")


def inert_reason(event: TriggerEvent) -> str | None:
    """Why this event starts nothing whatever the pipelines say, or None when pipelines decide."""
    if isinstance(event, PushEvent):
        return "a branch or tag deletion starts nothing" if event.deleted else None
    if event.event is None:
        return f"pull request action {event.action!r} starts nothing"
    return None


def starts(source: GitSource, git_configuration: dict[str, Any] | None, event: TriggerEvent) -> bool:
    """Whether the event starts a source action with this trigger configuration (None: the action has no trigger).

    Raises ChangedFilesNeeded when file path filters decide and the changed files are not known yet.
    """
    if isinstance(event, PushEvent):
        filters = None if git_configuration is None else git_configuration.get("push", [])
        return push_starts(source, filters, event)
    return pull_request_starts(source, (git_configuration or {}).get("pullRequest"), event)


def delivery_columns(event: TriggerEvent) -> dict[str, str]:
    """The repository, ref and head commit a delivery row records."""
    if isinstance(event, PushEvent):
        return {"repository": event.repository_name, "ref": event.ref, "head_commit": event.after}
    return {"repository": event.repository_name, "ref": event.fetch_ref, "head_commit": event.head_sha}


def record(event: TriggerEvent) -> dict[str, Any]:
    """The event as JSON, keyed by its kind, for `from_record`."""
    return {"push": event.record()} if isinstance(event, PushEvent) else {"pull_request": event.record()}


def from_record(data: dict[str, Any]) -> TriggerEvent:
    if "pull_request" in data:
        return PullRequestEvent.from_record(data["pull_request"])
    return PushEvent.from_record(data["push"])


def execution_start(event: TriggerEvent, delivery_id: str) -> tuple[TriggerType, str, dict[str, Any]]:
    """(trigger type, trigger detail, source revision) of an execution this event starts."""
    if isinstance(event, PushEvent):
        revision: dict[str, Any] = {
            "commit": event.after,
            "ref": event.ref,
            "before": event.before,
            "actor": event.sender_id,
        }
        detail = f"push of {event.ref} at {event.after[:12]} by {event.pusher or 'unknown'} (delivery {delivery_id})"
        return TriggerType.WEBHOOK, detail, revision
    pull_request: dict[str, Any] = {
        "number": event.number,
        "event": event.webhook_event,
        "base_branch": event.base_branch,
        "head_branch": event.head_branch,
    }
    revision = {
        "commit": event.head_sha,
        "ref": event.fetch_ref,
        "actor": event.sender_id,
        "pull_request": pull_request,
    }
    forked = event.head_repository and event.head_repository.lower() != event.repository_name.lower()
    head = f"{event.head_repository}:{event.head_branch}" if forked else event.head_branch
    detail = (
        f"pull request #{event.number} {event.event} ({event.action}) from {head} into {event.base_branch}"
        f" at {event.head_sha[:12]} by {event.sender or 'unknown'} (delivery {delivery_id})"
    )
    return TriggerType.WEBHOOK_V2, detail, revision


def nothing_matched(event: TriggerEvent) -> str:
    """Why no pipeline started, for the delivery's answer."""
    if isinstance(event, PushEvent):
        return f"no pipeline starts on {event.ref} of {event.repository_name}"
    return (
        f"no pipeline starts on {event.event} of pull request #{event.number} into {event.base_branch}"
        f" of {event.repository_name}"
    )


def why_deferred(event: TriggerEvent, pipelines: int) -> str:
    """Why the delivery waits for a job reading the changed files from git."""
    if isinstance(event, PushEvent):
        reason = "the payload may not list every changed file"
    else:
        reason = "a pull_request payload lists no files"
    return f"{pipelines} pipeline(s) filter on file paths and {reason}: they are read from git"
