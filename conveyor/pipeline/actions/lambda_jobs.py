"""The jobs of Lambda invoke actions: their ids, and what an action keeps while it waits for its function.

CodePipeline gives each invocation of a function a job, and the function reports on it with PutJobSuccessResult or
PutJobFailureResult, naming the job by its id. A Conveyor job id is `<action execution id>.<32 random hex digits>`.
Nobody can guess it, so holding it is the permission to report (reports carry an AWS signature that Conveyor, which
does not know the caller's secret key, cannot check). Only its SHA-256 is stored: neither the database nor the API
shows a job id that still works.

While the action waits it keeps one record, a `WaitingJob`:

* `invocation`: 1 for the first job, one more for each continuation;
* `since`: when the current job was created or its function invoked; 20 minutes later it times out
  (CodePipeline's timeout for Lambda actions), unless a success report is already waiting for its check;
* `job_sha256`: the hash of the current job's id, once the function has been invoked with it;
* `continuation_token`: what the previous job asked the next invocation to carry;
* `report`: an accepted success report, waiting for a job to check the output artifacts and finish the action.

The record lives in the action row's `provider_state` and counts only while the action is in progress.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from conveyor.db.models import ActionExecution
from conveyor.pipeline.status import ActionStatus

TIMEOUT = timedelta(minutes=20)  # CodePipeline's timeout for Lambda invoke actions
_JOB_ID = re.compile(r"(?P<action>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.[0-9a-f]{32}\Z")


@dataclass(frozen=True)
class WaitingJob:
    invocation: int
    since: datetime
    job_sha256: str | None = None
    continuation_token: str | None = None
    report: dict[str, Any] | None = None

    def holds(self, job_id: str) -> bool:
        """Whether `job_id` is the current job's id (compared in constant time)."""
        return self.job_sha256 is not None and hmac.compare_digest(job_hash(job_id), self.job_sha256)

    def expired(self, now: datetime) -> bool:
        return self.report is None and now - self.since > TIMEOUT


def new_job_id(action_execution_id: str) -> str:
    return f"{action_execution_id}.{secrets.token_hex(16)}"


def job_hash(job_id: str) -> str:
    return hashlib.sha256(job_id.encode()).hexdigest()


def action_of_job(job_id: str) -> str | None:
    """The action execution id a job id names, or None when it is not a Conveyor job id."""
    match = _JOB_ID.match(job_id)
    return match.group("action") if match else None


def waiting_job(action: ActionExecution) -> WaitingJob | None:
    """The job an action waits on; None when it waits on none (it ended, or is no Lambda action)."""
    record = action.provider_state
    if not isinstance(record, dict) or action.status != ActionStatus.IN_PROGRESS.value:
        return None
    return WaitingJob(**{**record, "since": datetime.fromisoformat(record["since"])})


def keep_waiting_job(action: ActionExecution, job: WaitingJob) -> None:
    action.provider_state = {**asdict(job), "since": job.since.isoformat()}
