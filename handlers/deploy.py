"""The deploy engine's registry under `/api/v1`: applications, deployment groups and configurations, hosts.

They share the API blueprint (and so its token check). Definitions come as YAML or JSON in CodeDeploy's request
shapes; errors list every problem with its path.
"""

from __future__ import annotations

from flask import Response, jsonify

from conveyor.deploy import registry
from conveyor.errors import InvalidRequest
from handlers.api import bp, definition_text, json_body, source_name
from handlers.context import runtime


@bp.post("/applications")
def create_application() -> tuple[Response, int]:
    """CreateApplication {applicationName, computePlatform}."""
    body = json_body()
    name, platform = body.get("applicationName"), body.get("computePlatform", "Server")
    if not isinstance(name, str) or not isinstance(platform, str):
        raise InvalidRequest("'applicationName' (and 'computePlatform', if given) must be strings")
    return jsonify(registry.create_application(runtime(), name, platform)), 201


@bp.get("/applications")
def list_applications() -> Response:
    return jsonify({"applications": registry.list_applications(runtime())})


@bp.get("/applications/<name>")
def get_application(name: str) -> Response:
    return jsonify(registry.get_application(runtime(), name))


@bp.post("/applications/<name>/deployment-groups")
def create_deployment_group(name: str) -> tuple[Response, int]:
    """CreateDeploymentGroup: create-deployment-group's input as YAML or JSON."""
    return jsonify(
        registry.create_deployment_group(
            runtime(), name, definition_text("deployment group"), source_name("deployment group")
        )
    ), 201


@bp.get("/applications/<name>/deployment-groups/<group>")
def get_deployment_group(name: str, group: str) -> Response:
    return jsonify(registry.get_deployment_group(runtime(), name, group))


@bp.post("/deployment-configs")
def create_deployment_config() -> tuple[Response, int]:
    """CreateDeploymentConfig: create-deployment-config's input as YAML or JSON."""
    return jsonify(
        registry.create_deployment_config(
            runtime(), definition_text("deployment configuration"), source_name("deployment configuration")
        )
    ), 201


@bp.get("/deployment-configs")
def list_deployment_configs() -> Response:
    return jsonify({"deploymentConfigsList": registry.list_deployment_configs(runtime())})


@bp.get("/deployment-configs/<name>")
def get_deployment_config(name: str) -> Response:
    return jsonify({"deploymentConfigInfo": registry.get_deployment_config(runtime(), name)})


@bp.post("/hosts")
def register_host() -> Response:
    """What an agent sends as it starts: {instanceName, tags: [{Key, Value}]}; answers the host with its queue."""
    body = json_body()
    name, tags = body.get("instanceName"), body.get("tags", [])
    if not isinstance(name, str):
        raise InvalidRequest("'instanceName' must be a string")
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("Key"), str) for t in tags):
        raise InvalidRequest('\'tags\' must be a list of {"Key": …, "Value": …}')
    return jsonify(registry.register_host(runtime(), name, {t["Key"]: str(t.get("Value", "")) for t in tags}))


@bp.get("/hosts")
def list_hosts() -> Response:
    return jsonify({"hosts": registry.list_hosts(runtime())})
