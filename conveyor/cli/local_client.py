"""The CLI's client without a server: the same operations as the REST API, through the services, on this
machine's settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conveyor.backlog import queues_overview
from conveyor.build import batch_views, batches, projects, report_store
from conveyor.build import service as builds
from conveyor.build import views as build_views
from conveyor.build.log import LogEvent
from conveyor.chatops import service as chat
from conveyor.config import Settings
from conveyor.deploy import blue_green_waits, deployments, registry, revisions
from conveyor.deploy.host_state import bundle_type_of
from conveyor.errors import ServiceUnavailable
from conveyor.notify import rules
from conveyor.paging import Page
from conveyor.pipeline import control, definitions, deletion, events, rollback, start_requests, views
from conveyor.pipeline import service as pipelines
from conveyor.runtime import Runtime
from conveyor.schedules import firing
from conveyor.schedules import registry as schedules
from conveyor.triggers import deliveries
from jobs.dispatch import RQInspector
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

    def delete_pipeline(self, name: str) -> dict[str, Any]:
        return deletion.delete_pipeline(self.rt, name)

    def list_queues(self) -> list[dict[str, Any]]:
        if self.rt.redis is None:
            raise ServiceUnavailable("no Redis configured to ask about the queues")
        return queues_overview(self.rt, RQInspector(self.rt.redis))

    def start_pipeline(
        self, name: str, variables: dict[str, str], revision: str | None, client_request_token: str | None = None
    ) -> str:
        return start_requests.start_once(self.rt, name, client_request_token, variables, revision, "cli")

    def list_executions(self, pipeline: str | None, limit: int, next_token: str | None = None) -> Page:
        return views.page_of_executions(self.rt, pipeline, limit, next_token)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return views.get_execution(self.rt, execution_id)

    def list_builds(self, project: str | None, limit: int, next_token: str | None = None) -> Page:
        return build_views.page_of_builds(self.rt, project, limit, next_token)

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

    def execution_events(self, execution_id: str, after: int = 0) -> list[dict[str, Any]]:
        views.get_execution(self.rt, execution_id)
        return events.list_events(self.rt, execution_id=execution_id, after=after, limit=1000)

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


def chat_commands(client: LocalClient, user: str | None, limit: int) -> list[dict[str, Any]]:
    """The chat audit log, newest first (`conveyor chatops log`)."""
    return chat.list_commands(client.rt, limit, user)


class LocalDeployClient:
    def __init__(self, client: LocalClient) -> None:
        self.rt = client.rt

    def upload_bundle(self, data: bytes, filename: str) -> dict[str, Any]:
        return revisions.store_bundle(self.rt, data, bundle_type_of(filename))

    def create_deployment(self, application: str, group: str, body: dict[str, Any]) -> dict[str, Any]:
        request = deployments.DeploymentRequest(
            application,
            group,
            revisions.check_revision_shape(body["revision"]),
            deployment_config_name=body.get("deploymentConfigName"),
            description=body.get("description"),
            file_exists_behavior=body.get("fileExistsBehavior") or "DISALLOW",
            ignore_application_stop_failures=bool(body.get("ignoreApplicationStopFailures")),
            target_instances=body.get("targetInstances"),
        )
        return deployments.create_deployment(self.rt, request)

    def get_deployment(self, deployment_id: str) -> dict[str, Any]:
        return deployments.get_deployment(self.rt, deployment_id)

    def list_deployments(self, application: str, group: str) -> list[dict[str, Any]]:
        return deployments.list_deployments(self.rt, application, group)

    def stop_deployment(self, deployment_id: str, rollback: bool | None) -> dict[str, Any]:
        return deployments.stop_deployment(self.rt, deployment_id, rollback)

    def redeploy(self, deployment_id: str) -> dict[str, Any]:
        return deployments.redeploy(self.rt, deployment_id)

    def continue_deployment(self, deployment_id: str, wait_type: str) -> dict[str, Any]:
        return blue_green_waits.continue_deployment(self.rt, deployment_id, wait_type)


class LocalNotifyClient:
    def __init__(self, client: LocalClient) -> None:
        self.rt = client.rt

    def create_rule(self, document: Any) -> dict[str, Any]:
        return rules.create_rule(self.rt, document)

    def list_rules(self) -> list[dict[str, Any]]:
        return rules.list_rules(self.rt)

    def get_rule(self, name: str) -> dict[str, Any]:
        return rules.get_rule(self.rt, name)

    def delete_rule(self, name: str) -> None:
        rules.delete_rule(self.rt, name)

    def send_test(self, name: str) -> dict[str, Any]:
        return rules.send_test(self.rt, name)

    def deliveries(self, name: str | None, limit: int) -> list[dict[str, Any]]:
        return rules.list_deliveries(self.rt, name, limit)


class LocalScheduleClient:
    def __init__(self, client: LocalClient) -> None:
        self.rt = client.rt

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return schedules.create_schedule(self.rt, body)

    def list_all(self) -> list[dict[str, Any]]:
        return schedules.list_schedules(self.rt)

    def get(self, name: str, count: int) -> dict[str, Any]:
        return schedules.get_schedule(self.rt, name, count)

    def delete(self, name: str) -> None:
        schedules.delete_schedule(self.rt, name)

    def pause(self, name: str) -> dict[str, Any]:
        return schedules.pause_schedule(self.rt, name)

    def resume(self, name: str) -> dict[str, Any]:
        return schedules.resume_schedule(self.rt, name)

    def run(self, name: str) -> dict[str, Any]:
        return firing.run_now(self.rt, name)

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        return firing.history(self.rt, name, limit)


class LocalWebhookClient:
    def __init__(self, client: LocalClient) -> None:
        self.rt = client.rt

    def deliveries(
        self, repository: str | None, outcome: str | None, limit: int, next_token: str | None = None
    ) -> Page:
        return deliveries.page_of_deliveries(self.rt, repository, outcome, limit, next_token)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return deliveries.get_delivery(self.rt, delivery_id)
