"""The CLI's client without a server: the same operations as the REST API, through the services, on this
machine's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.build import batch_views, batches, projects, report_store
from conveyor.build import service as builds
from conveyor.build import views as build_views
from conveyor.build.views import LogEvent
from conveyor.config import Settings
from conveyor.deploy import registry
from conveyor.pipeline import control, definitions, events, rollback, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from jobs.runtime import make_runtime, prepare


class LocalClient:
    """The same operations, on this machine's settings, without a server."""

    def __init__(self, settings: Settings) -> None:
        prepare(settings)
        self.rt: Runtime = make_runtime(settings)
        self.where = f"direct ({self.rt.db.describe()})"

    def create_pipeline(self, text: str, filename: str) -> dict[str, Any]:
        return definitions.create_pipeline(self.rt, text, filename)

    def update_pipeline(self, name: str, text: str, filename: str) -> dict[str, Any]:
        return definitions.update_pipeline(self.rt, name, text, filename)

    def list_pipelines(self) -> list[dict[str, Any]]:
        return definitions.list_pipelines(self.rt)

    def get_pipeline(self, name: str) -> dict[str, Any]:
        return definitions.get_pipeline(self.rt, name)

    def start_pipeline(self, name: str, variables: dict[str, str], revision: str | None) -> str:
        return pipelines.start_pipeline(self.rt, name, variables, revision, requested_by="cli")

    def list_executions(self, pipeline: str | None, limit: int) -> list[dict[str, Any]]:
        return views.list_executions(self.rt, pipeline, limit)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return views.get_execution(self.rt, execution_id)

    def list_builds(self, project: str | None, limit: int) -> list[dict[str, Any]]:
        return build_views.list_builds(self.rt, project, limit)

    def get_build(self, build_id: str) -> dict[str, Any]:
        return build_views.get_build(self.rt, build_id)

    def build_logs(self, build_id: str) -> str:
        return build_views.build_log(self.rt, build_id)

    def follow_build_logs(self, build_id: str) -> Iterator[LogEvent]:
        last: str | None = None
        while True:
            for event in build_views.follow_log(self.rt, build_id, last):
                last = event.event_id if event.event_id != "stored" else last
                yield event
                if event.kind == "end":
                    return

    def build_reports(self, build_id: str) -> list[dict[str, Any]]:
        return report_store.build_reports(self.rt, build_id)

    def report_detail(self, report_id: str, status: str | None) -> dict[str, Any]:
        return report_store.report_detail(self.rt, report_id, status)

    def put_project(self, text: str, filename: str) -> dict[str, Any]:
        return projects.put_project(self.rt, text, filename)

    def list_projects(self) -> list[dict[str, Any]]:
        return projects.list_projects(self.rt)

    def get_project(self, name: str) -> dict[str, Any]:
        return projects.get_project(self.rt, name)

    def stop_build(self, build_id: str) -> dict[str, Any]:
        build = builds.stop_build(self.rt, build_id)
        pipelines.report_build(self.rt, build)
        return build_views.get_build(self.rt, build_id)

    def list_batches(self, project: str | None, limit: int) -> list[dict[str, Any]]:
        return batch_views.list_batches(self.rt, project, limit)

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        return batch_views.get_batch(self.rt, batch_id)

    def stop_batch(self, batch_id: str) -> dict[str, Any]:
        batch = batches.stop_batch(self.rt, batch_id)
        pipelines.report_batch(self.rt, batch)
        return batch_views.get_batch(self.rt, batch_id)

    def execution_events(self, execution_id: str) -> list[dict[str, Any]]:
        views.get_execution(self.rt, execution_id)
        return events.list_events(self.rt, execution_id=execution_id, limit=1000)

    def stop_execution(self, pipeline: str, execution_id: str, abandon: bool, reason: str) -> None:
        control.stop_execution(self.rt, pipeline, execution_id, abandon, reason)

    def retry_stage(self, pipeline: str, execution_id: str, stage: str, mode: str) -> None:
        control.retry_stage(self.rt, pipeline, execution_id, stage, mode)

    def put_approval_result(
        self, pipeline: str, stage: str, action: str, token: str, status: str, summary: str, by: str
    ) -> dict[str, Any]:
        return control.put_approval_result(self.rt, pipeline, stage, action, token, status, summary, by)

    def set_transition(
        self, pipeline: str, stage: str, transition_type: str, enabled: bool, reason: str, by: str
    ) -> None:
        control.set_transition(self.rt, pipeline, stage, transition_type, enabled, reason, by)

    def rollback_stage(self, pipeline: str, stage: str, target_execution_id: str, by: str) -> str:
        return rollback.rollback_stage(self.rt, pipeline, stage, target_execution_id, by)

    def create_application(self, name: str, platform: str) -> dict[str, Any]:
        return registry.create_application(self.rt, name, platform)

    def list_applications(self) -> list[dict[str, Any]]:
        return registry.list_applications(self.rt)

    def create_deployment_group(self, application: str, text: str, filename: str) -> dict[str, Any]:
        return registry.create_deployment_group(self.rt, application, text, filename)

    def get_deployment_group(self, application: str, name: str) -> dict[str, Any]:
        return registry.get_deployment_group(self.rt, application, name)

    def create_deployment_config(self, text: str, filename: str) -> dict[str, Any]:
        return registry.create_deployment_config(self.rt, text, filename)

    def list_deployment_configs(self) -> list[str]:
        return registry.list_deployment_configs(self.rt)

    def get_deployment_config(self, name: str) -> dict[str, Any]:
        return registry.get_deployment_config(self.rt, name)

    def list_hosts(self) -> list[dict[str, Any]]:
        return registry.list_hosts(self.rt)

    def close(self) -> None:
        self.rt.db.dispose()
        if self.rt.redis is not None:
            self.rt.redis.close()
