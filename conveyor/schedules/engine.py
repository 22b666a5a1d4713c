"""What a scheduler does with a schedule whose slot is due: fire it, or skip it, and which slot comes next.

A schedule keeps one pending slot (`next_fire_at`). When a scheduler finds it due (at or before now), it decides:

* on time — found within `LATE_AFTER` of the slot and no later slot due yet: the slot fires;
* late — no scheduler ran for a while (or none kept up): the slot and every later one up to now were missed. The
  schedule's `missed` setting says what then: `run-once` fires once, for the earliest missed slot, standing for
  them all; `skip` fires nothing and records the earliest missed slot as skipped.

Either way the next pending slot is the first one after now, so a schedule never fires twice to catch up. The
firing always stands for the earliest due slot — the one every scheduler that looks at the schedule sees the same —
so the database can hold one firing per (schedule, slot) and refuse a second.

`LATE_AFTER` is one minute: AWS fires a slot within its minute, and a scheduler passes every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from conveyor.schedules.expressions import Timing

LATE_AFTER = timedelta(minutes=1)
COUNT_LIMIT = 1000  # missed slots counted one by one, at most


class MissedSlots(str, Enum):
    """What a schedule does with slots that passed while no scheduler fired them."""

    RUN_ONCE = "run-once"
    SKIP = "skip"


class FiringStatus(str, Enum):
    STARTED = "STARTED"  # the pipeline execution or build was created
    FAILED = "FAILED"  # the target could not be started (the reason is kept)
    SKIPPED = "SKIPPED"  # a missed slot of a schedule whose missed slots are skipped


@dataclass(frozen=True)
class SlotDecision:
    slot: datetime  # the slot this firing stands for: the earliest due
    fire: bool  # False: the slot was missed and the schedule skips missed slots
    late: bool
    also_missed: int  # later slots that were due too, up to COUNT_LIMIT
    next_fire_at: datetime | None  # None: the expression never fires again

    def summary(self) -> str | None:
        """Why this firing is not an ordinary one, for its history entry; None when it is."""
        if not self.late:
            return None
        more = f" and {self.also_missed}{'+' if self.also_missed >= COUNT_LIMIT else ''} later slots"
        slots = f"slot {self.slot.isoformat()}{more if self.also_missed else ''}"
        if self.fire:
            return f"{slots} passed while no scheduler ran: ran once for them"
        return f"{slots} passed while no scheduler ran: skipped, as the schedule says"


def decide(timing: Timing, due: datetime, now: datetime, missed: MissedSlots) -> SlotDecision:
    """The decision for a schedule whose pending slot `due` is at or before `now`."""
    also_missed = _count_due(timing, due, now)
    late = also_missed > 0 or now - due > LATE_AFTER
    return SlotDecision(
        slot=due,
        fire=not late or missed is MissedSlots.RUN_ONCE,
        late=late,
        also_missed=also_missed,
        next_fire_at=timing.next_after(now),
    )


def _count_due(timing: Timing, after: datetime, now: datetime) -> int:
    count = 0
    moment = timing.next_after(after)
    while moment is not None and moment <= now and count < COUNT_LIMIT:
        count += 1
        moment = timing.next_after(moment)
    return count
