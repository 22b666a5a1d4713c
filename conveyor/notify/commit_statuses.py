"""Commit statuses on GitHub: a pipeline execution's start (pending) and end (success, failure or error) posted on
each GitHub commit it runs, as `POST {github_api_url}/repos/{owner}/{repo}/statuses/{sha}` with the
`github_token` setting.

The commit statuses are one more reader of the pipeline events (`COMMIT_STATUSES`), active while `github_token` is
set, from the first time a scheduler saw it set. Decisions where GitHub and AWS say nothing:

* a source is a GitHub repository when it names one (`FullRepositoryId`, or GitHub v1's `Owner` and `Repo`; where
  Conveyor fetches it from, `RepositoryUrl`, does not matter), or when its URL is on github.com or on the host of
  `github_api_url` (GitHub Enterprise);
* the commit is the one the push or the start named; a start that named none learns it when its source action
  succeeds, and the pending status is posted then;
* the context is `conveyor/<pipeline>`: one status per pipeline and commit (stages are not told apart); the
  description says what happened, with the failure's summary; `target_url` is the execution on `public_url`;
* STOPPED, SUPERSEDED and CANCELED post `error`: the commit neither passed nor failed, and no status may stay
  pending for ever;
* an execution with no GitHub commit posts nothing (its delivery is Skipped); one delivery posts to every GitHub
  source of the execution, and another attempt posts to all of them again (a status posted twice is harmless).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy.orm import Session

from conveyor.config import Settings
from conveyor.db.models import ActionExecution, PipelineExecution
from conveyor.notify.catalog import ACTION_CHANGE
from conveyor.notify.engine import COMMIT_STATES, commit_status_description, retryable_http_status
from conveyor.notify.feed import link
from conveyor.notify.masking import Masker
from conveyor.notify.targets import USER_AGENT, DeliveryError, Outgoing
from conveyor.pipeline.catalog import GIT_SOURCE_PROVIDERS, git_source, repository_key
from conveyor.pipeline.definitions import load_definition
from conveyor.pipeline.records import current_actions
from conveyor.pipeline.spec import ActionDeclaration
from conveyor.runtime import Runtime

COMMIT_STATUSES = "commit-statuses"  # the reader's key


def post_commit_statuses(rt: Runtime, outgoing: Outgoing) -> bool:
    """Post the event's status on each GitHub commit of its execution; False when there is none to post on."""
    detail = outgoing.event["detail"]
    with rt.db.reader() as session:
        commits = _commits(session, rt.settings, outgoing.event["detail-type"], detail)
    if not commits:
        return False
    state = detail["state"] if outgoing.event["detail-type"] != ACTION_CHANGE else "STARTED"
    body = {
        "state": COMMIT_STATES[state],
        "target_url": link(rt.settings.public_url, outgoing.event),
        "description": commit_status_description(
            detail["pipeline"], detail["execution-id"], state, detail.get("summary")
        ),
        "context": f"conveyor/{detail['pipeline']}",
    }
    for repository, sha in commits:
        _post(rt.settings, repository, sha, body)
    return True


def _post(settings: Settings, repository: str, sha: str, body: dict[str, Any]) -> None:
    url = f"{settings.github_api_url.rstrip('/')}/repos/{repository}/statuses/{sha}"
    headers = {
        "Authorization": f"Bearer {settings.github_token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": USER_AGENT,
    }
    masker = Masker([settings.github_token])
    try:
        answer = requests.post(url, json=body, headers=headers, timeout=settings.notify_timeout)
    except requests.RequestException as exc:
        raise DeliveryError(masker(f"could not reach GitHub at {url}: {exc}"), True) from None
    if not 200 <= answer.status_code < 300:
        message = f"GitHub answered {answer.status_code} for {repository}@{sha[:12]}: {answer.text[:200]}"
        raise DeliveryError(masker(message), retryable_http_status(answer.status_code))


def _commits(session: Session, settings: Settings, detail_type: str, detail: dict[str, Any]) -> list[tuple[str, str]]:
    """(owner/repo, sha) of each GitHub source of the execution whose commit this change tells."""
    execution = session.get(PipelineExecution, detail["execution-id"])
    if execution is None:
        return []
    definition = load_definition(session, execution.pipeline_id, execution.pipeline_version)
    first = definition.stages[0]
    actions = current_actions(execution)
    found = []
    for source in first.actions:
        repository = github_repository(source, settings.github_api_url)
        revision = execution.source_revisions.get(source.name) or {}
        requested = None if revision.get("fetched") else revision.get("commit")  # what the start named
        if repository is None:
            continue
        if detail_type == ACTION_CHANGE:  # a source whose commit became known as it succeeded
            if requested or detail.get("action") != source.name:
                continue
            sha = _commit_id(actions.get((first.name, source.name)))
        elif detail["state"] == "STARTED":
            sha = requested
        else:
            sha = requested or _commit_id(actions.get((first.name, source.name)))
        if sha:
            found.append((repository, sha))
    return found


def _commit_id(action: ActionExecution | None) -> str | None:
    if action is None or action.status != "Succeeded":
        return None
    commit = (action.output_variables or {}).get("CommitId")
    return str(commit) if commit else None


def github_repository(source: ActionDeclaration, github_api_url: str) -> str | None:
    """`owner/repo` when the source action is a GitHub repository (see the module's rules), else None."""
    if source.type_id.provider not in GIT_SOURCE_PROVIDERS:
        return None
    git = git_source(source.configuration)
    if git.repository_id:
        return git.repository_id
    host, _, path = repository_key(git.url).partition("/")
    api_host = (urlsplit(github_api_url).hostname or "").lower()
    hosts = {"github.com", api_host.removeprefix("api.") if api_host == "api.github.com" else api_host}
    parts = path.split("/")
    return "/".join(parts[:2]) if host in hosts and len(parts) >= 2 else None
