"""What a webhook delivery came to: the answer it gets, and the outcome its record keeps.

Apart from the services that decide them, so that the command line can offer the outcomes without loading them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OUTCOMES = ("started", "ignored", "deferred", "failed")  # as recorded; a redelivery is not recorded again


@dataclass
class DeliveryOutcome:
    status: str  # started | ignored | duplicate | deferred (decided by a job that reads the changed files)
    execution_ids: list[str] = field(default_factory=list)
    detail: str = ""
