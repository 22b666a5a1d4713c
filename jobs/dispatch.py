"""Dispatches onto RQ: the Dispatcher and JobInspector the core asks for, implemented with RQ queues."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import redis
from rq import Queue, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import resolve_serializer
from rq.utils import now, utcformat
from rq.worker import WorkerStatus

from conveyor.backlog import QueueState
from conveyor.dispatch import Enqueueable, Kind, Written
from conveyor.errors import ServiceUnavailable
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
    Kind.POLL_SOURCES: "jobs.triggers.poll_sources",
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


# The fields of RQ's job hash that differ from one of Conveyor's jobs to another; every other field has the same
# value in all of them (see `_common_fields`).
_OWN_FIELDS = ("data", "description", "origin", "timeout")
_STAMPS = ("created_at", "enqueued_at")  # the same for every job of one send
_WRITTEN_PER_JOB = {*_OWN_FIELDS, *_STAMPS, "ttl"}  # ttl: only a job with a time to live (a host's) has the field

# KEYS: RQ's set of queues, then each job's hash and its queue. ARGV: the number of fields common to the batch's jobs,
# those fields as name, value, name, value, …; then, for each job: its id, its time to live in seconds (0: none; else
# written as its `ttl` field and set on its hash), and the values of its own fields, in the order of _OWN_FIELDS.
_ENQUEUE = """
local common = tonumber(ARGV[1])
local fields = {unpack(ARGV, 2, 1 + 2 * common)}
local at = 2 + 2 * common
for k = 2, #KEYS, 2 do
  local job, queue = KEYS[k], KEYS[k + 1]
  local id, ttl = ARGV[at], tonumber(ARGV[at + 1])
  redis.call('HSET', job, 'data', ARGV[at + 2], 'description', ARGV[at + 3], 'origin', ARGV[at + 4],
    'timeout', ARGV[at + 5], unpack(fields))
  at = at + 6
  if ttl > 0 then
    redis.call('HSET', job, 'ttl', ttl)
    redis.call('EXPIRE', job, ttl)
  end
  redis.call('SADD', KEYS[1], queue)
  redis.call('RPUSH', queue, id)
end
return (#KEYS - 1) / 2
"""


class RQDispatcher:
    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection
        self._enqueue = connection.register_script(_ENQUEUE)
        self._serializer = resolve_serializer()
        self._common = _common_fields(connection)

    def send(self, dispatches: Sequence[Enqueueable]) -> None:
        """Enqueue in one round trip; a Redis outage is logged and left to the reconciler.

        Each job is written as `Queue.enqueue_job` writes an independent job: its hash, with status queued, then its
        id pushed on its queue and the queue named in RQ's set of queues. One Lua script does all the writes of a
        batch, so no job is ever seen queued without being on its queue, and the batch costs one command and one
        reply however many jobs it holds. The hash holds what RQ's `Job.to_dict` gives for such a job: the fields
        all of Conveyor's jobs share are sent once per batch, and each job sends only its own four, which it builds
        without an RQ `Job` object (its call serialized and compressed as RQ does): a batch of four costs about a
        third of the client CPU it took when each job was built as a `Job` and sent whole. The checks `enqueue_job`
        makes for features Conveyor does not use (dependencies, rate limits, unique ids) are skipped."""
        if not dispatches:
            return
        stamp = utcformat(now())
        keys: list[str] = [Queue.redis_queues_keys]
        args: list[Any] = [len(self._common) + len(_STAMPS)]
        for name, value in self._common.items():
            args += [name, value]
        for name in _STAMPS:
            args += [name, stamp]
        for dispatch in dispatches:
            call: tuple[Any, ...] = (JOB_FUNCTIONS[Kind(dispatch.kind)], None, (dispatch.id, dispatch.attempt), {})
            keys += [Job.key_for(dispatch.job_id), f"{Queue.redis_queue_namespace_prefix}{dispatch.queue}"]
            args += [
                dispatch.job_id,
                _time_to_live(dispatch) or 0,
                zlib.compress(self._serializer.dumps(call)),
                _description(dispatch),
                dispatch.queue,
                dispatch.timeout_seconds,
            ]
        try:
            self._enqueue(keys=keys, args=args)
        except redis.RedisError as exc:
            log.warning("could not enqueue %d job(s), the reconciler will send them again: %s", len(dispatches), exc)


def job_for(dispatch: Enqueueable, connection: redis.Redis) -> Job:
    """The RQ job of a dispatch as RQ itself would build it: what the hash `RQDispatcher.send` writes must match."""
    return Job.create(
        JOB_FUNCTIONS[Kind(dispatch.kind)],
        args=(dispatch.id, dispatch.attempt),
        id=dispatch.job_id,
        timeout=dispatch.timeout_seconds,
        result_ttl=RESULT_TTL_SECONDS,
        failure_ttl=FAILURE_TTL_SECONDS,
        description=_description(dispatch),
        origin=dispatch.queue,
        status=JobStatus.QUEUED,
        connection=connection,
        ttl=_time_to_live(dispatch),
    )


def _description(dispatch: Enqueueable) -> str:
    return f"{dispatch.kind} {dispatch.subject_id} (attempt {dispatch.attempt})"


def _time_to_live(dispatch: Enqueueable) -> int | None:
    """A host's agent may be gone for good (a terminated original): its jobs must not wait in Redis for ever."""
    return HOST_JOB_TTL_SECONDS if dispatch.queue.startswith(HOST_QUEUE_PREFIX) else None


def _common_fields(connection: redis.Redis) -> dict[str, Any]:
    """The job-hash fields every one of Conveyor's jobs has with the same value, read off two jobs RQ builds that
    differ in all they can differ in. Any other difference than the expected ones (an RQ release that writes a new
    per-job field) stops the process at once rather than writing jobs RQ would misread."""
    first = job_for(Written("a", Kind.ADVANCE.value, "x", "pipeline", 120), connection)
    second = job_for(Written("b", Kind.DEPLOY_HOST.value, "y", f"{HOST_QUEUE_PREFIX}h", 600, attempt=2), connection)
    second.enqueued_at = first.enqueued_at = now()
    one, other = first.to_dict(), second.to_dict()
    differing = {name for name in one.keys() | other.keys() if one.get(name) != other.get(name)}
    if not differing <= _WRITTEN_PER_JOB:
        raise RuntimeError(f"RQ's jobs differ in fields Conveyor does not write per job: {sorted(differing)}")
    return {name: _plain(value) for name, value in one.items() if name not in _WRITTEN_PER_JOB}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


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

    def queue_names(self) -> list[str]:
        """The queues RQ knows of (those a job was ever sent to, or a worker registered on)."""
        try:
            return [queue.name for queue in Queue.all(connection=self.connection)]
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"Redis is unavailable: {exc}") from None

    def queue_state(self, name: str) -> QueueState:
        """Jobs waiting on queue `name`, and the workers listening on it."""
        queue = Queue(name, connection=self.connection)
        try:
            workers = Worker.all(connection=self.connection, queue=queue)
            busy = sum(1 for worker in workers if worker.get_state() == WorkerStatus.BUSY)
            return QueueState(queue.count, len(workers), busy)
        except redis.RedisError as exc:
            raise ServiceUnavailable(f"Redis is unavailable: {exc}") from None
