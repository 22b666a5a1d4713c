"""The REST API under `/api/v1`: pipelines, executions and builds. When `api_token` is set, every call needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request

from conveyor.build import batch_views, batches, projects, report_store
from conveyor.build import service as builds
from conveyor.build import views as build_views
from conveyor.build.log import LogEvent
from conveyor.errors import InvalidRequest, Unauthorized
from conveyor.paging import Page
from conveyor.pipeline import definitions, deletion, events, start_requests, views
from conveyor.pipeline import service as pipelines
from handlers.context import runtime

PROJECT = "project definition"  # what problems in a project sent to the API are said to be in
START_FIELDS = frozenset({"variables", "revision", "sourceRevisions", "clientRequestToken"})
REVISION_TYPES = ("COMMIT_ID", "S3_OBJECT_VERSION_ID")  # of StartPipelineExecution's: git and S3 sources
bp = Blueprint("api", __name__, url_prefix="/api/v1")
OPENAPI = Path(__file__).with_name("openapi.json")


@bp.before_request
def authenticate() -> None:
    token = runtime().settings.api_token
    if not token:
        return
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise Unauthorized("missing or wrong API token (Authorization: Bearer <token>)")


@bp.get("/openapi.json")
def openapi() -> Response:
    return Response(OPENAPI.read_text(), mimetype="application/json")


@bp.post("/pipelines")
def create_pipeline() -> tuple[Response, int]:
    return jsonify(definitions.create_pipeline(runtime(), definition_text(), source_name())), 201


@bp.put("/pipelines/<name>")
def update_pipeline(name: str) -> Response:
    return jsonify(definitions.update_pipeline(runtime(), name, definition_text(), source_name()))


@bp.get("/pipelines")
def list_pipelines() -> Response:
    return jsonify({"pipelines": definitions.list_pipelines(runtime())})


@bp.get("/pipelines/<name>")
def get_pipeline(name: str) -> Response:
    return jsonify(definitions.get_pipeline(runtime(), name))


@bp.delete("/pipelines/<name>")
def delete_pipeline(name: str) -> Response:
    """DeletePipeline: 409 while one of its executions is in progress."""
    return jsonify(deletion.delete_pipeline(runtime(), name))


@bp.post("/pipelines/<name>/executions")
def start_pipeline(name: str) -> tuple[Response, int]:
    body = json_body(optional=True)
    check_fields(body, START_FIELDS, name=name)
    variables = _variables(body.get("variables", {}))
    revision = _revision(body)
    token = body.get("clientRequestToken")
    execution_id = start_requests.start_once(runtime(), name, token, variables, revision, requested_by="api")
    return jsonify({"pipelineExecutionId": execution_id}), 202


@bp.post("/projects")
def create_project() -> tuple[Response, int]:
    return jsonify(projects.put_project(runtime(), definition_text(PROJECT), source_name(PROJECT))), 201


@bp.put("/projects/<name>")
def put_project(name: str) -> Response:
    return jsonify(projects.put_project(runtime(), definition_text(PROJECT), source_name(PROJECT), name=name))


@bp.get("/projects")
def list_projects() -> Response:
    return jsonify({"projects": projects.list_projects(runtime())})


@bp.get("/projects/<name>")
def get_project(name: str) -> Response:
    return jsonify(projects.get_project(runtime(), name))


@bp.get("/executions")
def list_executions() -> Response:
    """`?pipeline=`, `?limit=` (default 20) and `?nextToken=` from the previous page's answer."""
    page = views.page_of_executions(runtime(), request.args.get("pipeline"), limit_arg(), next_token_arg())
    return paged("executions", page)


@bp.get("/executions/<execution_id>")
def get_execution(execution_id: str) -> Response:
    return jsonify(views.get_execution(runtime(), execution_id))


@bp.get("/executions/<execution_id>/events")
def execution_events(execution_id: str) -> Response:
    views.get_execution(runtime(), execution_id)  # a 404 for an unknown execution, not an empty list
    return jsonify(
        {"events": events.list_events(runtime(), execution_id=execution_id, after=_after(), limit=limit_arg(100))}
    )


@bp.get("/events")
def list_events() -> Response:
    """State changes in the order they happened; `?after=<id>` resumes where a reader stopped."""
    pipeline = request.args.get("pipeline")
    return jsonify({"events": events.list_events(runtime(), pipeline=pipeline, after=_after(), limit=limit_arg(100))})


@bp.get("/builds")
def list_builds() -> Response:
    """`?project=`, `?limit=` (default 20) and `?nextToken=` from the previous page's answer."""
    return paged(
        "builds", build_views.page_of_builds(runtime(), request.args.get("project"), limit_arg(), next_token_arg())
    )


@bp.get("/builds/<path:build_id>/logs")
def build_logs(build_id: str) -> Response:
    """The stored log; with `?follow=1` (or `Accept: text/event-stream`) the live log as server-sent events."""
    if request.args.get("follow") not in ("1", "true") and request.accept_mimetypes.best != "text/event-stream":
        return Response(build_views.build_log(runtime(), build_id), mimetype="text/plain")
    after = request.headers.get("Last-Event-ID") or request.args.get("after")
    events = build_views.follow_log(runtime(), build_id, after)
    first = next(events, None)  # a missing build fails here, as a 404, before the stream starts
    return Response(
        _server_sent(first, events),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _server_sent(first: LogEvent | None, rest: Iterator[LogEvent]) -> Iterator[str]:
    """Each event as `id`, `event` and one JSON `data` line; the client reconnects with Last-Event-ID."""
    yield "retry: 1000\n\n"
    for event in itertools.chain([first] if first else [], rest):
        payload = json.dumps({"text": event.text}) if event.kind == "log" else json.dumps({"status": event.text})
        yield f"id: {event.event_id}\nevent: {event.kind}\ndata: {payload}\n\n"


@bp.post("/builds/<path:build_id>/stop")
def stop_build(build_id: str) -> Response:
    """StopBuild: a queued build stops at once, a running one within a second or so."""
    rt = runtime()
    build = builds.stop_build(rt, build_id)
    pipelines.report_build(rt, build)  # a build stopped in the queue is final already; a running one reports later
    return jsonify(build_views.get_build(rt, build_id))


@bp.get("/batches")
def list_batches() -> Response:
    return jsonify({"buildBatches": batch_views.list_batches(runtime(), request.args.get("project"), limit_arg())})


@bp.get("/batches/<path:batch_id>")
def get_batch(batch_id: str) -> Response:
    return jsonify(batch_views.get_batch(runtime(), batch_id))


@bp.post("/batches/<path:batch_id>/stop")
def stop_batch(batch_id: str) -> Response:
    """StopBuildBatch: its builds stop, none starts any more."""
    rt = runtime()
    batch = batches.stop_batch(rt, batch_id)
    pipelines.report_batch(rt, batch)  # ended at once when no build of it was running
    return jsonify(batch_views.get_batch(rt, batch_id))


@bp.get("/builds/<path:build_id>/reports")
def get_build_reports(build_id: str) -> Response:
    return jsonify({"reports": report_store.build_reports(runtime(), build_id)})


@bp.get("/reports/<report_id>")
def get_report(report_id: str) -> Response:
    """A report with its test cases (`?status=FAILED` for the failed ones) or its file coverage."""
    return jsonify(report_store.report_detail(runtime(), report_id, request.args.get("status"), limit_arg(1000)))


@bp.get("/builds/<path:build_id>")
def get_build(build_id: str) -> Response:
    return jsonify(build_views.get_build(runtime(), build_id))


def definition_text(kind: str = "pipeline definition") -> str:
    """The body of a request that registers a definition (YAML or JSON) of this kind."""
    if request.mimetype not in (
        "application/json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/plain",
    ):
        raise InvalidRequest(f"send the definition as application/json or application/yaml, not {request.mimetype}")
    text = request.get_data(as_text=True)
    if not text.strip():
        raise InvalidRequest(f"the request body is empty: send a {kind}")
    return text


def source_name(kind: str = "pipeline definition") -> str:
    """What problems in the body are said to be in: the file the CLI sent, or the kind of definition."""
    return request.headers.get("X-Conveyor-Filename") or kind


def json_body(*, optional: bool = False) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    if not raw.strip() and optional:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def check_fields(body: dict[str, Any], takes: frozenset[str], **named: str) -> None:
    """Refuse a field the call does not take (a misspelt one is not ignored). The fields of CodePipeline's request
    that the URL already names (`named`: the pipeline's name, an execution's id) may be sent too, as AWS's clients
    send them, and must agree with the URL."""
    unknown = sorted(set(body) - takes - set(named))
    if unknown:
        raise InvalidRequest(f"unknown field(s) {', '.join(unknown)}: this call takes {', '.join(sorted(takes))}")
    for field, value in named.items():
        if field in body and body[field] != value:
            raise InvalidRequest(f"'{field}' is {body[field]!r}, but the URL names {value!r}")


def _revision(body: dict[str, Any]) -> str | None:
    """Conveyor's `revision` (`SHA`, or `ACTION=VALUE,…`), or StartPipelineExecution's `sourceRevisions`."""
    revision, listed = body.get("revision"), body.get("sourceRevisions")
    if revision is not None and not isinstance(revision, str):
        raise InvalidRequest("'revision' must be a string: a commit id, or ACTION=COMMIT")
    if listed is None:
        return revision
    if revision is not None:
        raise InvalidRequest("give 'revision' or 'sourceRevisions', not both")
    if not isinstance(listed, list) or not listed:
        raise InvalidRequest("'sourceRevisions' must be a list of {actionName, revisionType, revisionValue}")
    items = []
    for n, entry in enumerate(listed):
        fields = entry if isinstance(entry, dict) else {}
        action, kind, value = (fields.get(k) for k in ("actionName", "revisionType", "revisionValue"))
        if not all(isinstance(v, str) and v for v in (action, kind, value)):
            raise InvalidRequest(f"sourceRevisions[{n}] needs actionName, revisionType and revisionValue")
        if kind not in REVISION_TYPES:
            raise InvalidRequest(
                f"sourceRevisions[{n}].revisionType {kind!r}: Conveyor's sources take {' or '.join(REVISION_TYPES)}"
            )
        if "," in f"{action}{value}" or "=" in str(action):
            raise InvalidRequest(f"sourceRevisions[{n}]: no action name holds ',' or '=', nor any revision ','")
        items.append(f"{action}={value}")
    return ",".join(items)


def _variables(value: Any) -> dict[str, str]:
    """Accept `{"NAME": "value"}` or the API's `[{"name": ..., "value": ...}]`."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(v, dict) and "name" in v and "value" in v for v in value):
        return {str(v["name"]): str(v["value"]) for v in value}
    raise InvalidRequest("'variables' must be an object of names to values, or a list of {name, value}")


def limit_arg(default: int = 20) -> int:
    """The `limit` query argument: a whole number from 1 to 1000, `default` when absent."""
    raw = request.args.get("limit", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise InvalidRequest("'limit' must be a whole number from 1 to 1000")
    return int(raw)


def next_token_arg() -> str | None:
    """The `nextToken` query argument: where the previous page ended (a bad one is a 400 where it is read)."""
    return request.args.get("nextToken") or None


def paged(name: str, page: Page) -> Response:
    """A page of a list as `{name: [...], "nextToken": ...}`; no `nextToken` on the last page (as CodePipeline)."""
    answer: dict[str, Any] = {name: page.items}
    if page.next_token is not None:
        answer["nextToken"] = page.next_token
    return jsonify(answer)


def _after() -> int:
    raw = request.args.get("after", "0")
    if not raw.isdigit():
        raise InvalidRequest("'after' must be an event id (a whole number)")
    return int(raw)
