"""Live build logs: pieces of the log as the worker writes them, in a Redis stream per build.

A Redis stream rather than pub/sub: a follower that arrives late reads from the start (or from the last id it saw,
after a reconnection) and then waits for what comes next, and no line is lost between the two. The stream ends with
an `end` entry carrying the build's status, and expires a day after its last write; the whole log is in the blob
store for good. Publishing never fails a build: if Redis is away, the live view is lost, the stored log is not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis

log = logging.getLogger(__name__)

STREAM_TTL_SECONDS = 24 * 3600
MAX_ENTRIES = 20_000


def stream_key(build_id: str) -> str:
    return f"conveyor:build-log:{build_id}"


class LogPublisher:
    def __init__(self, client: redis.Redis, build_id: str) -> None:
        self.client = client
        self.key = stream_key(build_id)

    def publish(self, text: str) -> None:
        self._add({"text": text})

    def finish(self, status: str) -> None:
        self._add({"end": status})

    def _add(self, fields: dict[str, str]) -> None:
        try:
            with self.client.pipeline(transaction=False) as pipe:
                pipe.xadd(self.key, fields, maxlen=MAX_ENTRIES, approximate=True)  # type: ignore[arg-type]
                pipe.expire(self.key, STREAM_TTL_SECONDS)
                pipe.execute()
        except redis.RedisError as exc:
            log.warning("live log of %s not published: %s", self.key, exc)


@dataclass(frozen=True)
class LiveChunk:
    entry_id: str
    text: str


@dataclass(frozen=True)
class LivePage:
    chunks: list[LiveChunk]
    ended: str | None  # the build's status once the log is complete
    last_id: str


def read_live(client: redis.Redis, build_id: str, after: str = "0", block_ms: int | None = None) -> LivePage:
    """What was written after entry `after`; with `block_ms`, wait that long for something new."""
    answer: Any = client.xread({stream_key(build_id): after}, count=1000, block=block_ms)
    chunks: list[LiveChunk] = []
    ended: str | None = None
    last = after
    for _key, entries in answer or []:
        for entry_id, fields in entries:
            last = _text(entry_id)
            values = {_text(k): _text(v) for k, v in fields.items()}
            if "end" in values:
                ended = values["end"]
            else:
                chunks.append(LiveChunk(last, values.get("text", "")))
    return LivePage(chunks, ended, last)


def live_text(client: redis.Redis, build_id: str) -> str:
    """Everything published so far, at once."""
    try:
        page = read_live(client, build_id)
    except redis.RedisError:
        return ""
    return "".join(chunk.text for chunk in page.chunks)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
