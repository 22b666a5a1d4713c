"""Dispatches onto RQ: the Dispatcher and JobInspector the core asks for, implemented with RQ queues."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

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
# A job that succeeded leaves nothing in Redis: its dispatch row says when it ran and that it is done, and no job
# returns a value. Keeping it (RQ's job hash, result stream and finished registry, for an hour) cost the worker a
# save and three more writes per job. A failed job stays a week, with its traceback, in RQ's failed registry.
RESULT_TTL_SECONDS = 0
FAILURE_TTL_SECONDS = 7 * 24 * 3600
_ALIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED}


# KEYS: RQ's set of queues, then each job's hash and its queue. ARGV, for each job: its id, its time to live in
# seconds (0: none), the number of its fields, then the fields as name, value, name, value, …
_ENQUEUE = """
local at = 1
for k = 2, #KEYS, 2 do
  local job, queue = KEYS[k], KEYS[k + 1]
  local id, ttl, fields = ARGV[at], tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2])
  redis.call('HSET', job, unpack(ARGV, at + 3, at + 2 + 2 * fields))
  at = at + 3 + 2 * fields
  if ttl > 0 then redis.call('EXPIRE', job, ttl) end
  redis.call('SADD', KEYS[1], queue)
  redis.call('RPUSH', queue, id)
end
return (#KEYS - 1) / 2
"""


class RQDispatcher:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._enqueue = connection.register_script(_ENQUEUE)

    def send(self, dispatches: Sequence[Enqueueable]) -> None:
        """Enqueue in one round trip; a Redis outage is logged and left to the reconciler.

        Each job is written as RQ's `Queue.enqueue_job` writes an independent job: its hash (as RQ builds it), with
        status queued, then its id pushed on its queue and the queue named in RQ's set of queues. One Lua script
        does all the writes of a batch, so no job is ever seen queued without being on its queue, and the batch
        costs one command and one reply however many jobs it holds. The queue-level checks enqueue_job makes for
        features Conveyor does not use (dependencies, rate limits, unique ids) are skipped: on a batch of webhook
        deliveries they cost more than the writes."""
        if not dispatches:
            return
        keys: list[str] = [Queue.redis_queues_keys]
        args: list[Any] = []
        for dispatch in dispatches:
            job = self._job(dispatch)
            fields = job.to_dict()
            keys += [job.key, f"{Queue.redis_queue_namespace_prefix}{dispatch.queue}"]
            args += [job.id, job.ttl or 0, len(fields)]
            for name, value in fields.items():
                args += [name, value]
        try:
            self._enqueue(keys=keys, args=args)
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

    def job_started_at(self, job_id: str) -> datetime | None:
        try:
            job = Job.fetch(job_id, connection=self.connection)
        except NoSuchJobError:
            return None
        if job.get_status(refresh=False) != JobStatus.STARTED or job.started_at is None:
            return None
        return job.started_at.replace(tzinfo=UTC) if job.started_at.tzinfo is None else job.started_at
