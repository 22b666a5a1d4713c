"""How `conveyor deploy` reaches deployments: through the server's REST API, or the same services directly.

Kept beside `conveyor.cli.client` (which it follows) so that module stays one concept: pipelines and builds.
"""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient


class DeployClient(Protocol):
    def upload_bundle(self, data: bytes, filename: str) -> dict[str, Any]: ...
    def create_deployment(self, application: str, group: str, body: dict[str, Any]) -> dict[str, Any]: ...
    def get_deployment(self, deployment_id: str) -> dict[str, Any]: ...
    def list_deployments(self, application: str, group: str) -> list[dict[str, Any]]: ...
    def stop_deployment(self, deployment_id: str, rollback: bool | None) -> dict[str, Any]: ...
    def redeploy(self, deployment_id: str) -> dict[str, Any]: ...
    def continue_deployment(self, deployment_id: str, wait_type: str) -> dict[str, Any]: ...


def deploy_client(client: Client) -> DeployClient:
    if isinstance(client, HttpClient):
        return HttpDeployClient(client)
    from conveyor.cli.local_client import LocalClient, LocalDeployClient  # noqa: PLC0415 - see conveyor.cli.client.local_client

    if isinstance(client, LocalClient):
        return LocalDeployClient(client)
    raise TypeError(f"no deployment client for {type(client).__name__}")


class HttpDeployClient:
    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def upload_bundle(self, data: bytes, filename: str) -> dict[str, Any]:
        answer = self.client._call(
            "POST",
            "/deployment-bundles",
            params={"filename": filename},
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return dict(answer.json()["revision"])

    def create_deployment(self, application: str, group: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/applications/{application}/deployment-groups/{group}/deployments"
        return dict(self.client._call("POST", path, json=body).json())

    def get_deployment(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.client._call("GET", f"/deployments/{deployment_id}").json())

    def list_deployments(self, application: str, group: str) -> list[dict[str, Any]]:
        path = f"/applications/{application}/deployment-groups/{group}/deployments"
        return list(self.client._call("GET", path).json()["deployments"])

    def stop_deployment(self, deployment_id: str, rollback: bool | None) -> dict[str, Any]:
        body = {} if rollback is None else {"autoRollbackEnabled": rollback}
        return dict(self.client._call("POST", f"/deployments/{deployment_id}/stop", json=body).json())

    def redeploy(self, deployment_id: str) -> dict[str, Any]:
        return dict(self.client._call("POST", f"/deployments/{deployment_id}/redeploy", json={}).json())

    def continue_deployment(self, deployment_id: str, wait_type: str) -> dict[str, Any]:
        body = {"deploymentWaitType": wait_type}
        return dict(self.client._call("POST", f"/deployments/{deployment_id}/continue", json=body).json())
