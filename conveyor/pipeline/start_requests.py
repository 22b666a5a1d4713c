"""StartPipelineExecution with a `clientRequestToken`: the same request sent again (a client retrying after a
timeout) answers with the execution the first one started, and starts nothing more.

A token is kept per pipeline, with a digest of the variables and revisions it asked for: the same token with other
ones is a conflict, not a start. Two requests with one token arriving together start one execution: the second
waits for the first's row (PostgreSQL) or its turn to write (SQLite), then finds it.
"""

from __future__ import annotations

import hashlib
import json
import re

from sqlalchemy.exc import IntegrityError

from conveyor.db.models import ExecutionRequest
from conveyor.errors import Conflict, InvalidRequest
from conveyor.pipeline.definitions import find_pipeline
from conveyor.pipeline.service import asked_by, start_in, start_pipeline
from conveyor.runtime import Runtime

TOKEN = re.compile(r"[A-Za-z0-9-]{1,128}")  # StartPipelineExecution's clientRequestToken


def start_once(
    rt: Runtime,
    name: str,
    client_request_token: str | None,
    variables: dict[str, str] | None = None,
    revision: str | None = None,
    requested_by: str = "manual",
) -> str:
    """The execution this token started, or a new one recorded under the token; without a token, a plain start."""
    if client_request_token is None:
        return start_pipeline(rt, name, variables, revision, requested_by)
    if not isinstance(client_request_token, str) or not TOKEN.fullmatch(client_request_token):
        raise InvalidRequest("a clientRequestToken must be 1 to 128 letters, digits or '-'")
    digest = request_digest(variables, revision)
    try:
        return _start_or_find(rt, name, client_request_token, digest, variables, revision, requested_by)
    except IntegrityError:  # the same token committed first, in another request: this finds what it started
        return _start_or_find(rt, name, client_request_token, digest, variables, revision, requested_by)


def _start_or_find(
    rt: Runtime,
    name: str,
    token: str,
    digest: str,
    variables: dict[str, str] | None,
    revision: str | None,
    requested_by: str,
) -> str:
    with rt.transaction() as (session, outbox):
        pipeline = find_pipeline(session, name)
        earlier = session.get(ExecutionRequest, (pipeline.id, token))
        if earlier is not None:
            return _same_request(earlier, digest)
        execution_id = start_in(session, outbox, name, variables, revision, asked_by(requested_by))
        session.add(
            ExecutionRequest(
                pipeline_id=pipeline.id, client_request_token=token, execution_id=execution_id, request_digest=digest
            )
        )
        return execution_id


def request_digest(variables: dict[str, str] | None, revision: str | None) -> str:
    asked = json.dumps({"variables": variables or {}, "revision": revision or ""}, sort_keys=True)
    return hashlib.sha256(asked.encode()).hexdigest()


def _same_request(earlier: ExecutionRequest, digest: str) -> str:
    if earlier.request_digest != digest:
        raise Conflict(
            f"clientRequestToken {earlier.client_request_token} already started execution {earlier.execution_id} "
            "with other variables or revisions: use a new token for a new start"
        )
    return earlier.execution_id
