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
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, insert, update

from conveyor.build import events as build_events
from conveyor.build.events import PhaseEnd
from conveyor.build.status import BuildStatus, PhaseType
from conveyor.db import Database
from conveyor.db.models import Build, BuildPhase, utcnow

_PHASES = cast(Table, BuildPhase.__table__)
_BUILDS = cast(Table, Build.__table__)
_START_PHASE = insert(_PHASES).returning(_PHASES.c.id)
_WHOLE_PHASE = insert(_PHASES)
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
        """Write what waits on `connection`, in the transaction it is in (the build's end, or a checkpoint).

        A phase that started and ended since the last write is inserted whole; rows without RETURNING and the
        phases' events go in one statement each.
        """
        pending, self._pending = self._pending, []
        starts = {phase: at for phase, at, ended in pending if ended is None}
        ending = {phase for phase, _, ended in pending if ended is not None}
        whole: list[dict[str, Any]] = []
        ends: list[PhaseEnd] = []
        for phase, at, ended in pending:
            if ended is None:
                if phase not in ending:  # still running: its row now, its id for its end
                    self._insert(connection, whole)
                    self._open[phase] = (self._start(connection, phase, at), at)
            elif phase in starts:
                end = PhaseEnd(phase, starts[phase], at, *ended)
                whole.append(_whole_row(self.build_id, end))
                ends.append(end)
            elif phase in self._open:
                row_id, started = self._open.pop(phase)
                end = PhaseEnd(phase, started, at, *ended)
                _write_end(connection, row_id, end)
                ends.append(end)
        self._insert(connection, whole)
        build_events.phases_ended(connection, self.build_id, ends)
        current = next((phase for phase, _, ended in reversed(pending) if ended is None), None)
        if current is not None:
            connection.execute(_SET_CURRENT, {"build_id": self.build_id, "current_phase": current.value})
        self._last_write = time.monotonic()

    def _start(self, connection: Connection, phase: PhaseType, at: datetime) -> int:
        values: dict[str, Any] = {
            "build_id": self.build_id,
            "phase_type": phase.value,
            "start_time": at,
            "contexts": [],
        }
        row_id: int = connection.execute(_START_PHASE, values).scalar_one()
        return row_id

    @staticmethod
    def _insert(connection: Connection, rows: list[dict[str, Any]]) -> None:
        """Insert the whole phases gathered so far (before a later phase's row, so ids follow the phases)."""
        if rows:
            connection.execute(_WHOLE_PHASE, rows)
            rows.clear()


def _whole_row(build_id: str, end: PhaseEnd) -> dict[str, Any]:
    return {
        "build_id": build_id,
        "phase_type": end.phase.value,
        "start_time": end.started,
        "end_time": end.ended,
        "phase_status": end.status.value,
        "duration_seconds": int((end.ended - end.started).total_seconds()),
        "contexts": end.contexts,
    }


def _write_end(connection: Connection, row_id: int, end: PhaseEnd) -> None:
    connection.execute(
        _END_PHASE,
        {
            "phase_id": row_id,
            "end_time": end.ended,
            "phase_status": end.status.value,
            "duration_seconds": int((end.ended - end.started).total_seconds()),
            "contexts": end.contexts,
        },
    )
