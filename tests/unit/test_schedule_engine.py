"""What a scheduler does with a due slot: fire it on time, or, when it was missed, run once or skip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.schedules.engine import COUNT_LIMIT, LATE_AFTER, MissedSlots, decide
from conveyor.schedules.expressions import Timing

NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def timing(expression: str, anchor: datetime = NOON - timedelta(days=1)) -> Timing:
    return Timing.parse(expression, "UTC", anchor)


def test_a_slot_found_on_time_fires_and_the_next_one_follows() -> None:
    for missed in MissedSlots:
        decision = decide(timing("rate(5 minutes)"), NOON, NOON + timedelta(seconds=3), missed)
        assert (decision.slot, decision.fire, decision.late, decision.also_missed) == (NOON, True, False, 0)
        assert decision.next_fire_at == NOON + timedelta(minutes=5)
        assert decision.summary() is None


def test_a_slot_found_a_minute_late_is_still_on_time_and_a_second_more_is_late() -> None:
    daily = timing("cron(0 12 * * ? *)")
    assert not decide(daily, NOON, NOON + LATE_AFTER, MissedSlots.SKIP).late
    late = decide(daily, NOON, NOON + LATE_AFTER + timedelta(seconds=1), MissedSlots.SKIP)
    assert (late.late, late.fire, late.also_missed) == (True, False, 0)
    assert late.next_fire_at == NOON + timedelta(days=1)


def test_after_downtime_run_once_fires_once_for_the_earliest_missed_slot() -> None:
    hourly = timing("cron(0 * * * ? *)")
    now = NOON + timedelta(hours=4, minutes=30)
    decision = decide(hourly, NOON, now, MissedSlots.RUN_ONCE)
    assert (decision.slot, decision.fire, decision.late, decision.also_missed) == (NOON, True, True, 4)
    assert decision.next_fire_at == NOON + timedelta(hours=5)  # the first slot after now: no catching up
    assert decision.summary() == (
        "slot 2026-01-01T12:00:00+00:00 and 4 later slots passed while no scheduler ran: ran once for them"
    )


def test_after_downtime_skip_fires_nothing_and_says_so() -> None:
    hourly = timing("cron(0 * * * ? *)")
    decision = decide(hourly, NOON, NOON + timedelta(hours=2, minutes=1), MissedSlots.SKIP)
    assert (decision.fire, decision.also_missed) == (False, 2)
    assert decision.next_fire_at == NOON + timedelta(hours=3)
    assert decision.summary() == (
        "slot 2026-01-01T12:00:00+00:00 and 2 later slots passed while no scheduler ran: skipped, as the schedule says"
    )


def test_missed_slots_are_counted_up_to_a_limit() -> None:
    every_minute = timing("rate(1 minute)")
    decision = decide(every_minute, NOON, NOON + timedelta(days=3), MissedSlots.RUN_ONCE)
    assert decision.also_missed == COUNT_LIMIT
    assert f"and {COUNT_LIMIT}+ later slots" in (decision.summary() or "")
    assert decision.next_fire_at == NOON + timedelta(days=3, minutes=1)


def test_the_last_slot_of_an_expression_leaves_none_pending() -> None:
    once = timing("cron(0 12 1 1 ? 2026)")
    decision = decide(once, NOON, NOON + timedelta(seconds=2), MissedSlots.RUN_ONCE)
    assert decision.fire
    assert decision.next_fire_at is None


def test_every_scheduler_deciding_at_another_moment_picks_the_same_slot() -> None:
    hourly = timing("cron(0 * * * ? *)")
    moments = [NOON + timedelta(seconds=s) for s in (1, 59, 3600 * 3 + 7)]
    assert {decide(hourly, NOON, now, MissedSlots.RUN_ONCE).slot for now in moments} == {NOON}
