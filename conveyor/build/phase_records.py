"""A running build's phase records in SQL: each phase as it starts and ends, written in prebuilt statements.

Records wait in memory and are written together: at once when the last write is older than
`PhaseRecorder.FLUSH_SECONDS`, always before commands run (`checkpoint`), and with the build's end (`write`, in
the transaction that ends it). The build's row was written when its attempt began, just before the recorder is
made, so that counts as the last write. A build's quick steps — PROVISIONING, DOWNLOAD_SOURCE, an empty INSTALL or
PRE_BUILD — thus share the transaction that makes the first commands' phase visible, the steps after the last
commands share the one that ends the build, and a phase that runs commands is visible as it runs.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, insert, update

from conveyor.build import events as build_events
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db import Database
from conveyor.db.models import Build, BuildPhase, utcnow

_PHASES = cast(Table, BuildPhase.__table__)
_BUILDS = cast(Table, Build.__table__)
_START_PHASE = insert(_PHASES).returning(_PHASES.c.id)
_END_PHASE = update(_PHASES).where(_PHASES.c.id == bindparam("phase_id"))
_SET_CURRENT = update(_BUILDS).where(_BUILDS.c.id == bindparam("build_id"))

_Ending = tuple[BuildStatus, list[dict[str, str]]]


class PhaseRecorder:
    """Writes the phases of one build (see the module's docstring for when)."""

    FLUSH_SECONDS = 0.1

    def __init__(self, db: Database, build_id: str) -> None:
        self.db = db
        self.build_id = build_id
        self._pending: list[tuple[PhaseType, datetime, _Ending | None]] = []
        self._open: dict[PhaseType, tuple[int, datetime]] = {}  # written starts without a written end
        self._last_write = time.monotonic()  # the attempt's start, written just before

    def phase_started(self, phase: PhaseType) -> None:
        self._pending.append((phase, utcnow(), None))
        if time.monotonic() - self._last_write >= self.FLUSH_SECONDS:
            self.checkpoint()

    def phase_ended(self, phase: PhaseType, status: BuildStatus, contexts: list[dict[str, str]]) -> None:
        self._pending.append((phase, utcnow(), (status, contexts)))

    def checkpoint(self) -> None:
        """Write what waits, in a transaction of its own."""
        if not self._pending:
            return
        with self.db.session() as session:
            self.write(session.connection())

    def write(self, connection: Connection) -> None:
        """Write what waits on `connection`, in the transaction it is in (the build's end, or a checkpoint)."""
        pending, self._pending = self._pending, []
        for phase, at, ended in pending:
            if ended is None:
                row_id = connection.execute(
                    _START_PHASE,
                    {"build_id": self.build_id, "phase_type": phase.value, "start_time": at, "contexts": []},
                ).scalar_one()
                self._open[phase] = (row_id, at)
            elif phase in self._open:
                row_id, started = self._open.pop(phase)
                _write_end(connection, row_id, started, at, *ended)
                build_events.phase_ended(connection, self.build_id, phase, started, at, *ended)
        current = next((phase for phase, _, ended in reversed(pending) if ended is None), None)
        if current is not None:
            connection.execute(_SET_CURRENT, {"build_id": self.build_id, "current_phase": current.value})
        self._last_write = time.monotonic()


def _write_end(
    connection: Connection,
    row_id: int,
    started: datetime,
    ended: datetime,
    status: BuildStatus,
    contexts: list[dict[str, str]],
) -> None:
    connection.execute(
        _END_PHASE,
        {
            "phase_id": row_id,
            "end_time": ended,
            "phase_status": status.value,
            "duration_seconds": int((ended - started).total_seconds()),
            "contexts": contexts,
        },
    )
