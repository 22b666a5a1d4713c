"""The resources one process works with, created once by the edge that runs it (web app, worker, CLI)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import redis
from sqlalchemy.orm import Session

from conveyor.blobs import BlobStore, open_blob_store
from conveyor.commit_group import CommitGroup
from conveyor.config import Settings
from conveyor.db import Database
from conveyor.dispatch import Dispatcher, Outbox


@dataclass
class Runtime:
    settings: Settings
    dispatcher: Dispatcher
    redis: redis.Redis | None = None

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def blobs(self) -> BlobStore:
        return open_blob_store(self.settings)

    @cached_property
    def commit_group(self) -> CommitGroup:
        """Shared transactions for short, frequent writes from many threads (webhook deliveries)."""
        return CommitGroup(self.db, self.dispatcher)

    @contextmanager
    def transaction(self) -> Iterator[tuple[Session, Outbox]]:
        """A transaction whose dispatches are sent once it has committed."""
        with self.db.session() as session:
            outbox = Outbox(session)
            yield session, outbox
        if outbox.pending:
            self.dispatcher.send(outbox.pending)
