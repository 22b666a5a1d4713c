"""Dispatches onto RQ: the Dispatcher and JobInspector the core asks for, implemented with RQ queues."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.utils import now

from conveyor.dispatch import Enqueueable, Kind
from conveyor.queues import HOST_JOB_TTL_SECONDS, HOST_QUEUE_PREFIX

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
RESULT_TTL_SECONDS = 3600
FAILURE_TTL_SECONDS = 7 * 24 * 3600
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED}


class RQDispatcher:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def send(self, dispatches: Sequence[Enqueueable]) -> None:
        """Enqueue in one round trip; a Redis outage is logged and left to the reconciler.

        Each job is written as RQ's `Queue.enqueue_job` writes an independent job (its hash, with status queued,
        then its id pushed on the queue, the queue named in RQ's set of queues), inside one MULTI/EXEC so that no
        job is ever seen queued without being on its queue. The queue-level checks enqueue_job makes for features
        Conveyor does not use (dependencies, rate limits, unique ids) are skipped: on a batch of webhook
        deliveries they cost more than the writes."""
        try:
            with self.connection.pipeline() as pipe:
                for queue in sorted({dispatch.queue for dispatch in dispatches}):
                    pipe.sadd(Queue.redis_queues_keys, f"{Queue.redis_queue_namespace_prefix}{queue}")
                for dispatch in dispatches:
                    job = self._job(dispatch)
                    pipe.hset(job.key, mapping=job.to_dict())
                    if job.ttl:
                        pipe.expire(job.key, job.ttl)
                    pipe.rpush(f"{Queue.redis_queue_namespace_prefix}{dispatch.queue}", job.id)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("could not enqueue %d job(s), the reconciler will send them again: %s", len(dispatches), exc)

    def _job(self, dispatch: Enqueueable) -> Job:
        job = Job.create(
            JOB_FUNCTIONS[Kind(dispatch.kind)],
            args=(dispatch.id, dispatch.attempt),
            id=dispatch.job_id,
            timeout=dispatch.timeout_seconds,
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=FAILURE_TTL_SECONDS,
            description=f"{dispatch.kind} {dispatch.subject_id} (attempt {dispatch.attempt})",
            origin=dispatch.queue,
            status=JobStatus.QUEUED,
            connection=self.connection,
            # a host's agent may be gone for good (a terminated original): its jobs must not wait in Redis for ever
            ttl=HOST_JOB_TTL_SECONDS if dispatch.queue.startswith(HOST_QUEUE_PREFIX) else None,
        )
        job.enqueued_at = now()
        return job


class RQInspector:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def job_alive(self, job_id: str) -> bool:
        try:
            status = Job.fetch(job_id, connection=self.connection).get_status(refresh=False)
        except NoSuchJobError:
            return False
        return status in _ALIVE
