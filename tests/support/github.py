"""GitHub webhook payloads for tests, shaped as GitHub sends them (the fields Conveyor reads, and a few more)."""

from __future__ import annotations

from typing import Any


def pull_request_payload(
    full_name: str,
    clone_url: str,
    number: int,
    action: str,
    *,
    base_sha: str,
    head_sha: str,
    base: str = "main",
    head: str = "feature",
    merged: bool = False,
    fork: str | None = None,
    sender: str = "octocat",
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A `pull_request` delivery; `fork` names the repository the head lives in when it is not the base's."""
    owner, _, name = full_name.partition("/")
    repository = {"name": name, "full_name": full_name, "owner": {"login": owner}, "clone_url": clone_url}
    head_repository = {"full_name": fork, "clone_url": f"https://github.com/{fork}.git"} if fork else repository
    closed = action == "closed"
    payload: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "title": f"change {number}",
            "state": "closed" if closed else "open",
            "merged": merged,
            "merge_commit_sha": "f" * 40 if merged else None,
            "base": {"ref": base, "sha": base_sha, "repo": repository},
            "head": {"ref": head, "sha": head_sha, "repo": head_repository},
            "user": {"login": sender},
        },
        "repository": repository,
        "sender": {"login": sender, "id": 1000 + sum(map(ord, sender))},
    }
    if changes is not None:
        payload["changes"] = changes
    return payload
