"""The baseline's RQ job: it does nothing but say when it began running."""

from __future__ import annotations

import time


def started_at() -> float:
    """The time (seconds since the epoch) at which this job began running."""
    return time.time()
