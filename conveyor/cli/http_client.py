"""The CLI's client of a running Conveyor server: its REST API over HTTP, errors mapped back to Conveyor's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import requests

from conveyor.build.log import LogEvent
from conveyor.errors import (
    Conflict,
    ConveyorError,
    InvalidRequest,
    NotFound,
    Problem,
    ServiceUnavailable,
    SpecError,
    Unauthorized,
)
from conveyor.paging import Page


class HttpClient:
    def __init__(self, url: str, token: str = "") -> None:
        self.url = url.rstrip("/")
        self.where = self.url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, *, retries: int = 0, **kwargs: Any) -> requests.Response:
        """One request; `retries` more when the server cannot be reached or the connection drops (for requests the
        server answers alike however often they arrive)."""
        for attempt in range(retries + 1):
            try:
                response = self.session.request(method, f"{self.url}/api/v1{path}", timeout=30, **kwargs)
                break
            except requests.RequestException as exc:
                if attempt == retries:
                    raise ServiceUnavailable(f"cannot reach the Conveyor server at {self.url}: {_why(exc)}") from None
                time.sleep(0.5 * 2**attempt)
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def create_pipeline(self, text: str, filename: str) -> dict[str, Any]:
        return dict(self._call("POST", "/pipelines", data=text.encode(), headers=_yaml_headers(filename)).json())

    def update_pipeline(self, name: str, text: str, filename: str) -> dict[str, Any]:
        return dict(self._call("PUT", f"/pipelines/{name}", data=text.encode(), headers=_yaml_headers(filename)).json())

    def list_pipelines(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/pipelines").json()["pipelines"])

    def get_pipeline(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/pipelines/{name}").json())

    def list_queues(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/queues").json()["queues"])

    def delete_pipeline(self, name: str) -> dict[str, Any]:
        return dict(self._call("DELETE", f"/pipelines/{name}").json())

    def start_pipeline(
        self, name: str, variables: dict[str, str], revision: str | None, client_request_token: str | None = None
    ) -> str:
        # a token of its own when none is given, as AWS's clients do: a start retried after a dropped connection
        # (which the server may have carried out) answers with its execution instead of starting another
        body: dict[str, Any] = {"variables": variables, "clientRequestToken": client_request_token or str(uuid.uuid4())}
        if revision:
            body["revision"] = revision
        answer = self._call("POST", f"/pipelines/{name}/executions", retries=2, json=body)
        return str(answer.json()["pipelineExecutionId"])

    def list_executions(self, pipeline: str | None, limit: int, next_token: str | None = None) -> Page:
        return self.page("/executions", "executions", limit=limit, pipeline=pipeline, nextToken=next_token)

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/executions/{execution_id}").json())

    def list_builds(self, project: str | None, limit: int, next_token: str | None = None) -> Page:
        return self.page("/builds", "builds", limit=limit, project=project, nextToken=next_token)

    def page(self, path: str, name: str, **asked: Any) -> Page:
        """A page of the list at `path` (the arguments given, those that are None left out)."""
        params = {key: value for key, value in asked.items() if value is not None}
        answer = self._call("GET", path, params=params).json()
        return Page(list(answer[name]), answer.get("nextToken"))

    def get_build(self, build_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/builds/{build_id}").json())

    def build_logs(self, build_id: str) -> str:
        return self._call("GET", f"/builds/{build_id}/logs").text

    def follow_build_logs(self, build_id: str) -> Iterator[LogEvent]:
        """Server-sent events until the log ends, reconnecting with the last event id as the server asks."""
        last: str | None = None
        while True:
            headers = {"Accept": "text/event-stream", **({"Last-Event-ID": last} if last else {})}
            try:
                response = self.session.get(
                    f"{self.url}/api/v1/builds/{build_id}/logs",
                    params={"follow": "1"},
                    headers=headers,
                    stream=True,
                    timeout=(10, 60),
                )
            except requests.RequestException as exc:
                raise ServiceUnavailable(f"cannot reach the Conveyor server at {self.url}: {exc}") from None
            if response.status_code >= 400:
                raise _error_from(response)
            with response:
                for event in _parse_events(response.iter_lines(decode_unicode=True)):
                    if event.event_id != "stored":
                        last = event.event_id
                    yield event
                    if event.kind == "end":
                        return

    def stop_build(self, build_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/builds/{build_id}/stop").json())

    def build_reports(self, build_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/builds/{build_id}/reports").json()["reports"])

    def report_detail(self, report_id: str, status: str | None) -> dict[str, Any]:
        return dict(self._call("GET", f"/reports/{report_id}", params={"status": status} if status else {}).json())

    def put_project(self, text: str, filename: str) -> dict[str, Any]:
        return dict(self._call("POST", "/projects", data=text.encode(), headers=_yaml_headers(filename)).json())

    def list_projects(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/projects").json()["projects"])

    def get_project(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/projects/{name}").json())

    def list_batches(self, project: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, **({"project": project} if project else {})}
        return list(self._call("GET", "/batches", params=params).json()["buildBatches"])

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/batches/{batch_id}").json())

    def stop_batch(self, batch_id: str) -> dict[str, Any]:
        return dict(self._call("POST", f"/batches/{batch_id}/stop").json())

    def execution_events(self, execution_id: str, after: int = 0) -> list[dict[str, Any]]:
        params = {"limit": 1000, "after": after}
        return list(self._call("GET", f"/executions/{execution_id}/events", params=params).json()["events"])

    def stop_execution(self, pipeline: str, execution_id: str, abandon: bool, reason: str) -> None:
        body = {"abandon": abandon, "reason": reason}
        self._call("POST", f"/pipelines/{pipeline}/executions/{execution_id}/stop", json=body)

    def retry_stage(self, pipeline: str, execution_id: str, stage: str, mode: str) -> None:
        body = {"stageName": stage, "retryMode": mode}
        self._call("POST", f"/pipelines/{pipeline}/executions/{execution_id}/retry", json=body)

    def put_approval_result(
        self, pipeline: str, stage: str, action: str, token: str, status: str, summary: str, by: str
    ) -> dict[str, Any]:
        body = {
            "stageName": stage,
            "actionName": action,
            "token": token,
            "result": {"status": status, "summary": summary},
            "by": by,
        }
        return dict(self._call("POST", f"/pipelines/{pipeline}/approvals", json=body).json())

    def set_transition(
        self, pipeline: str, stage: str, transition_type: str, enabled: bool, reason: str, by: str
    ) -> None:
        body = {"transitionType": transition_type, "by": by}
        if not enabled:  # EnableStageTransition takes no reason
            body["reason"] = reason
        self._call("POST", f"/pipelines/{pipeline}/stages/{stage}/{'enable' if enabled else 'disable'}", json=body)

    def rollback_stage(self, pipeline: str, stage: str, target_execution_id: str, by: str) -> str:
        body = {"targetPipelineExecutionId": target_execution_id, "by": by}
        answer = self._call("POST", f"/pipelines/{pipeline}/stages/{stage}/rollback", json=body).json()
        return str(answer["pipelineExecutionId"])

    def create_application(self, name: str, platform: str) -> dict[str, Any]:
        body = {"applicationName": name, "computePlatform": platform}
        return dict(self._call("POST", "/applications", json=body).json())

    def list_applications(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/applications").json()["applications"])

    def create_deployment_group(self, application: str, text: str, filename: str) -> dict[str, Any]:
        path = f"/applications/{application}/deployment-groups"
        return dict(self._call("POST", path, data=text.encode(), headers=_yaml_headers(filename)).json())

    def get_deployment_group(self, application: str, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/applications/{application}/deployment-groups/{name}").json())

    def create_deployment_config(self, text: str, filename: str) -> dict[str, Any]:
        headers = _yaml_headers(filename)
        return dict(self._call("POST", "/deployment-configs", data=text.encode(), headers=headers).json())

    def list_deployment_configs(self) -> list[str]:
        return list(self._call("GET", "/deployment-configs").json()["deploymentConfigsList"])

    def get_deployment_config(self, name: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/deployment-configs/{name}").json()["deploymentConfigInfo"])

    def list_hosts(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/hosts").json()["hosts"])

    def close(self) -> None:
        self.session.close()


def _why(exc: requests.RequestException) -> str:
    """The cause of a failed request in a few words ("[Errno 111] Connection refused"), not urllib3's whole chain."""
    if isinstance(exc, requests.Timeout):
        return "no answer within 30 s"
    reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's, under its retry error
    if reason is not None and reason.args:
        return str(reason.args[0]).split("): ", 1)[-1]  # without the "HTTPConnection(host=…, port=…)" before it
    return str(exc)


def _parse_events(lines: Iterator[str]) -> Iterator[LogEvent]:
    event_id, kind, data = "", "message", ""
    for line in lines:
        if line == "":
            if data:
                body = json.loads(data)
                yield LogEvent(kind, event_id, body.get("text", body.get("status", "")))
            event_id, kind, data = "", "message", ""
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data += line[6:]


def _yaml_headers(filename: str) -> dict[str, str]:
    return {"Content-Type": "application/yaml", "X-Conveyor-Filename": filename}


def _error_from(response: requests.Response) -> ConveyorError:
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:500]}
    if body.get("problems"):
        problems = [Problem(p.get("path", ""), p.get("message", ""), p.get("line")) for p in body["problems"]]
        return SpecError(body.get("source", "definition"), problems)
    message = str(body.get("message") or f"HTTP {response.status_code}")
    if response.status_code == 401:  # the server's words, and where this side's token comes from
        message += ": the CLI sends CONVEYOR_API_TOKEN (or api_token in the config file) as that token"
    error_class = {401: Unauthorized, 404: NotFound, 409: Conflict, 503: ServiceUnavailable}.get(
        response.status_code, InvalidRequest
    )
    error = error_class(message)
    error.status_code = response.status_code
    return error
