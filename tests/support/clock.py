"""A clock for code that polls: it moves only when the code under test sleeps."""

from __future__ import annotations

from collections.abc import Callable


class FakeClock:
    """Pass `clock` as the time function and `clock.sleep` as the sleep; `on_sleep` may change the world meanwhile."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()

    def __call__(self) -> float:
        return self.now
