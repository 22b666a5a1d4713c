"""Deployments under `/api/v1`: upload a bundle, create a deployment, watch it per host, stop it, redeploy.

A bundle is uploaded as the raw body (`application/zip`, or `application/octet-stream` with `?bundleType=`) and
answered with the revision naming it; a deployment is then created from a revision (CreateDeployment's input).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from conveyor.deploy import blue_green_waits, deployments, revisions
from conveyor.deploy.host_state import bundle_type_of
from conveyor.errors import InvalidRequest
from handlers.api import bp, json_body
from handlers.context import runtime

MAX_BUNDLE_BYTES = 512 * 1024 * 1024


@bp.post("/deployment-bundles")
def upload_bundle() -> tuple[Response, int]:
    """Keep a bundle in Conveyor's blob store under its content's key; answers {revision}."""
    bundle_type = request.args.get("bundleType") or bundle_type_of(request.args.get("filename", ""))
    if request.content_length is not None and request.content_length > MAX_BUNDLE_BYTES:
        raise InvalidRequest(f"a bundle may be at most {MAX_BUNDLE_BYTES} bytes")
    request.max_content_length = MAX_BUNDLE_BYTES  # this route's own limit, above the app's 25 MB for webhooks
    data = request.get_data()
    if not data:
        raise InvalidRequest("send the bundle as the request body")
    return jsonify({"revision": revisions.store_bundle(runtime(), data, bundle_type)}), 201


@bp.post("/applications/<name>/deployment-groups/<group>/deployments")
def create_deployment(name: str, group: str) -> tuple[Response, int]:
    """CreateDeployment: {revision, deploymentConfigName?, description?, fileExistsBehavior?, targetInstances?, …}."""
    body = json_body()
    options: dict[str, Any] = {
        "deployment_config_name": _optional(body, "deploymentConfigName", str),
        "description": _optional(body, "description", str),
        "file_exists_behavior": _optional(body, "fileExistsBehavior", str) or "DISALLOW",
        "ignore_application_stop_failures": bool(_optional(body, "ignoreApplicationStopFailures", bool)),
        "auto_rollback": _optional(body, "autoRollbackConfiguration", dict),
        "target_instances": _optional(body, "targetInstances", dict),
    }
    revision = revisions.check_revision_shape(body.get("revision"))
    created = deployments.create_deployment(runtime(), deployments.DeploymentRequest(name, group, revision, **options))
    return jsonify(created), 201


@bp.get("/applications/<name>/deployment-groups/<group>/deployments")
def list_deployments(name: str, group: str) -> Response:
    return jsonify({"deployments": deployments.list_deployments(runtime(), name, group)})


@bp.get("/deployments/<deployment_id>")
def get_deployment(deployment_id: str) -> Response:
    return jsonify(deployments.get_deployment(runtime(), deployment_id))


@bp.post("/deployments/<deployment_id>/stop")
def stop_deployment(deployment_id: str) -> Response:
    """StopDeployment {autoRollbackEnabled?}."""
    rollback = _optional(json_body(optional=True), "autoRollbackEnabled", bool)
    return jsonify(deployments.stop_deployment(runtime(), deployment_id, rollback))


@bp.post("/deployments/<deployment_id>/continue")
def continue_deployment(deployment_id: str) -> Response:
    """ContinueDeployment {deploymentWaitType?: READY_WAIT | TERMINATION_WAIT}."""
    wait_type = _optional(json_body(optional=True), "deploymentWaitType", str)
    return jsonify(blue_green_waits.continue_deployment(runtime(), deployment_id, wait_type))


@bp.post("/deployments/<deployment_id>/redeploy")
def redeploy(deployment_id: str) -> tuple[Response, int]:
    """A new deployment of that deployment's revision to its group."""
    description = _optional(json_body(optional=True), "description", str)
    return jsonify(deployments.redeploy(runtime(), deployment_id, description)), 201


def _optional(body: dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise InvalidRequest(f"'{key}' must be a {kind.__name__}")
    return value
