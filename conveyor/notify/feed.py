"""The events readers read: pipeline changes from `pipeline_events` (through `conveyor.pipeline.events`, the one
place they are told) and build and deployment changes from `state_events`, each as one `Event`, which renders
itself in EventBridge's envelope.

Decisions where AWS says nothing: the envelope's `source` is `conveyor.codepipeline`, `conveyor.codebuild` or
`conveyor.codedeploy` (EventBridge keeps `aws.*` for AWS's own services and refuses it in PutEvents), and
`conveyor.notifications` for a test send; `detail-type` and `detail` are AWS's; `account` is `000000000000`; `id`
is the same for an event whichever rule sends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from conveyor.db.notify_models import StateEvent
from conveyor.notify import catalog
from conveyor.pipeline.events import list_events
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

PIPELINE_STREAM, STATE_STREAM, TEST_STREAM = "pipeline", "state", "test"
ACCOUNT = "000000000000"
_IDS = uuid.UUID("6f1c1d52-3a55-4f0e-9d5e-2b8c0a3f4e71")  # the namespace of envelope ids


@dataclass(frozen=True)
class Event:
    stream: str
    id: int | None
    source: str  # codepipeline | codebuild | codedeploy | conveyor
    detail_type: str
    state: str
    time: datetime
    resource_name: str  # the pipeline, project or application
    resources: tuple[str, ...]  # ARNs, as EventBridge lists them
    region: str
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def type_ids(self) -> tuple[str, ...]:
        return catalog.type_ids(self.source, self.detail_type, self.state, self.detail)

    def envelope(self) -> dict[str, Any]:
        key = f"{self.stream}:{self.id}" if self.id is not None else f"{self.stream}:{self.time.isoformat()}"
        return {
            "version": "0",
            "id": str(uuid.uuid5(_IDS, key)),
            "detail-type": self.detail_type,
            "source": "conveyor.notifications" if self.source == catalog.TEST else f"conveyor.{self.source}",
            "account": ACCOUNT,
            "time": iso(self.time),
            "region": self.region,
            "resources": list(self.resources),
            "detail": self.detail,
        }


def read_events(rt: Runtime, stream: str, after: int, limit: int = 200) -> list[Event]:
    """Events of one stream with ids after `after`, in id order."""
    region = rt.settings.aws_region
    if stream == PIPELINE_STREAM:
        return [_pipeline_event(shown, region) for shown in list_events(rt, after=after, limit=limit)]
    with rt.db.reader() as session:
        rows = session.scalars(select(StateEvent).where(StateEvent.id > after).order_by(StateEvent.id).limit(limit))
        return [_state_event(row, region) for row in rows]


def _pipeline_event(shown: dict[str, Any], region: str) -> Event:
    detail = shown["detail"]
    return Event(
        stream=PIPELINE_STREAM,
        id=shown["id"],
        source=catalog.PIPELINE,
        detail_type=shown["detail-type"],
        state=detail["state"],
        time=datetime.fromisoformat(shown["time"]),
        resource_name=detail["pipeline"],
        resources=(f"arn:aws:codepipeline:{region}:{ACCOUNT}:{detail['pipeline']}",),
        region=region,
        detail=detail,
    )


def _state_event(row: StateEvent, region: str) -> Event:
    if row.source == catalog.BUILD:
        resources: tuple[str, ...] = (f"arn:aws:codebuild:{region}:{ACCOUNT}:build/{row.resource}",)
    else:
        group = row.detail.get("deploymentGroup", "")
        resources = (
            f"arn:aws:codedeploy:{region}:{ACCOUNT}:application:{row.name}",
            f"arn:aws:codedeploy:{region}:{ACCOUNT}:deploymentgroup:{row.name}/{group}",
        )
    return Event(
        stream=STATE_STREAM,
        id=row.id,
        source=row.source,
        detail_type=row.detail_type,
        state=row.state,
        time=row.created_at,
        resource_name=row.name,
        resources=resources,
        region=region,
        detail=dict(row.detail),
    )


def sample_event(rt: Runtime, rule_name: str, now: datetime) -> Event:
    """The event a test send carries."""
    detail = {"rule": rule_name, "message": f"A test notification from Conveyor for the rule {rule_name}"}
    region = rt.settings.aws_region
    return Event(TEST_STREAM, None, catalog.TEST, catalog.TEST_EVENT, "TEST", now, rule_name, (), region, detail)


def link(public_url: str, event: dict[str, Any]) -> str | None:
    """Where a person looks at what an event (an envelope) is about."""
    base, detail = public_url.rstrip("/"), event.get("detail", {})
    if "execution-id" in detail:
        return f"{base}/api/v1/executions/{detail['execution-id']}"
    if "build-id" in detail:
        return f"{base}/api/v1/builds/{detail['build-id']}"
    if "deploymentId" in detail:
        return f"{base}/api/v1/deployments/{detail['deploymentId']}"
    return None
