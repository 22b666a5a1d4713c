"""Dispatches onto RQ: the Dispatcher and JobInspector the core asks for, implemented with RQ queues."""

from __future__ import annotations

import logging

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from conveyor.db.models import Dispatch
from conveyor.dispatch import Kind

log = logging.getLogger(__name__)

JOB_FUNCTIONS = {
    Kind.ADVANCE: "jobs.pipeline.advance",
    Kind.ACTION: "jobs.actions.run",
    Kind.CONDITION: "jobs.conditions.check",
    Kind.APPROVAL_NOTICE: "jobs.approvals.notify",
    Kind.BUILD: "jobs.build.run",
    Kind.BUILD_ENDED: "jobs.build.ended",
    Kind.BATCH: "jobs.batch.prepare",
    Kind.CHANGED_FILES: "jobs.triggers.changed_files",
    Kind.DEPLOY_HOST: "jobs.deploy.host",
    Kind.RETIRE_HOST: "jobs.deploy.retire",
    Kind.DEPLOY_ROLLOUT: "jobs.deploy.rollout",
    Kind.DEPLOYMENT_ENDED: "jobs.deploy.ended",
    Kind.NOTIFY: "jobs.notify.send",
    Kind.CHAT_COMMAND: "jobs.chatops.carry_out",
}
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED}


class RQDispatcher:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def send(self, dispatches: list[Dispatch]) -> None:
        """Enqueue in one round trip; a Redis outage is logged and left to the reconciler."""
        try:
            with self.connection.pipeline() as pipe:
                for dispatch in dispatches:
                    Queue(dispatch.queue, connection=self.connection).enqueue_call(
                        JOB_FUNCTIONS[Kind(dispatch.kind)],
                        args=(dispatch.id, dispatch.attempt),
                        job_id=dispatch.job_id,
                        timeout=dispatch.timeout_seconds,
                        result_ttl=3600,
                        failure_ttl=7 * 24 * 3600,
                        description=f"{dispatch.kind} {dispatch.subject_id} (attempt {dispatch.attempt})",
                        pipeline=pipe,
                    )
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not enqueue %d job(s), the reconciler will send them again: %s", len(dispatches), exc)


class RQInspector:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def job_alive(self, job_id: str) -> bool:
        try:
            status = Job.fetch(job_id, connection=self.connection).get_status(refresh=False)
        except NoSuchJobError:
            return False
        return status in _ALIVE
