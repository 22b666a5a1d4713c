"""Row ids: UUIDs of version 7, in the order they were made, so that new rows land at the end of their key's index;
shown short by their random end."""

from __future__ import annotations

import time
import uuid

from conveyor.ids import new_id, short_id


def test_a_row_id_is_a_version_7_uuid_that_carries_the_millisecond_it_was_made_in() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000
    value = uuid.UUID(made)
    assert str(value) == made  # the canonical spelling, 36 characters
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_made_in_a_later_millisecond_sort_after_earlier_ones_as_text() -> None:
    made = []
    for _ in range(5):
        made.append(new_id())
        time.sleep(0.002)
    assert made == sorted(made)  # the order an index on the text column keeps


def test_ids_made_in_the_same_millisecond_differ_in_their_random_bits() -> None:
    made = [new_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    random_parts = {uuid.UUID(m).int & ((1 << 62) - 1) for m in made}
    assert len(random_parts) == len(made)


def test_the_short_form_of_ids_made_together_tells_them_apart() -> None:
    made = [new_id() for _ in range(1000)]  # within a millisecond or two: their first characters are all alike
    assert len({m[:8] for m in made}) < 5
    assert len({short_id(m) for m in made}) == len(made)
    assert all(m.endswith(short_id(m)) and len(short_id(m)) == 8 for m in made)
