"""The share of keep-alive connections a gunicorn worker keeps (handlers.serving.KeepAliveBalance). Each worker
process has its own copy of the object over the one shared mapping: here the other workers' counts are written
into the mapping as their processes would."""

from __future__ import annotations

from types import SimpleNamespace

from handlers.serving import NO_WORKER, KeepAliveBalance


def _workers(balance: KeepAliveBalance, n: int) -> list[SimpleNamespace]:
    workers = [SimpleNamespace() for _ in range(n)]
    for worker in workers:
        balance.claim(worker)
    return workers


def test_workers_claim_free_slots_and_give_them_back() -> None:
    balance = KeepAliveBalance(slots=3)
    first, second, third = _workers(balance, 3)
    assert [first.balance_slot, second.balance_slot, third.balance_slot] == [0, 1, 2]
    assert list(balance.counts) == [0, 0, 0]

    balance.free(second)
    replacement = SimpleNamespace()
    balance.claim(replacement)
    assert replacement.balance_slot == 1

    extra = SimpleNamespace()
    balance.claim(extra)  # every slot taken: this worker stays out of the balance
    assert extra.balance_slot is None
    balance.free(extra)
    assert list(balance.counts) == [0, 0, 0]


def test_a_worker_over_its_share_closes_only_its_excess() -> None:
    balance = KeepAliveBalance(slots=4)
    busy, idle = _workers(balance, 2)
    balance.counts[idle.balance_slot] = 19  # as the other worker's process wrote it
    # 31 and 19: a share is 25, so six of the busy worker's connections are closed, and no more
    decisions = [balance.over_share(busy.balance_slot, 31) for _ in range(10)]
    assert decisions == [True] * 6 + [False] * 4
    for _ in range(6):
        balance.closed()
    balance.counts[idle.balance_slot] = 25  # the six clients reconnected, all to the other worker
    assert not balance.over_share(busy.balance_slot, 25)


def test_an_odd_total_is_left_alone() -> None:
    balance = KeepAliveBalance(slots=4)
    one, other = _workers(balance, 2)
    balance.counts[other.balance_slot] = 25
    assert not balance.over_share(one.balance_slot, 26)  # 51 over two workers: a share is 26


def test_free_slots_do_not_count_as_workers() -> None:
    balance = KeepAliveBalance(slots=8)
    (only,) = _workers(balance, 1)
    assert balance.counts[1] == NO_WORKER
    assert not any(balance.over_share(only.balance_slot, 40) for _ in range(5))
