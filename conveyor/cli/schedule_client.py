"""How `conveyor schedules` reaches schedules: through the server's REST API, or the same services directly.

Kept beside `conveyor.cli.client` (which it follows), as `deploy_client` is.
"""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient


class ScheduleClient(Protocol):
    def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    def list_all(self) -> list[dict[str, Any]]: ...
    def get(self, name: str, count: int) -> dict[str, Any]: ...
    def delete(self, name: str) -> None: ...
    def pause(self, name: str) -> dict[str, Any]: ...
    def resume(self, name: str) -> dict[str, Any]: ...
    def run(self, name: str) -> dict[str, Any]: ...
    def history(self, name: str, limit: int) -> list[dict[str, Any]]: ...


def schedule_client(client: Client) -> ScheduleClient:
    if isinstance(client, HttpClient):
        return HttpScheduleClient(client)
    from conveyor.cli.local_client import LocalClient, LocalScheduleClient  # noqa: PLC0415 - see conveyor.cli.client.local_client

    if isinstance(client, LocalClient):
        return LocalScheduleClient(client)
    raise TypeError(f"no schedule client for {type(client).__name__}")


class HttpScheduleClient:
    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.client._call("POST", "/schedules", json=body).json())

    def list_all(self) -> list[dict[str, Any]]:
        return list(self.client._call("GET", "/schedules").json()["schedules"])

    def get(self, name: str, count: int) -> dict[str, Any]:
        return dict(self.client._call("GET", f"/schedules/{name}", params={"count": count}).json())

    def delete(self, name: str) -> None:
        self.client._call("DELETE", f"/schedules/{name}")

    def pause(self, name: str) -> dict[str, Any]:
        return dict(self.client._call("POST", f"/schedules/{name}/pause").json())

    def resume(self, name: str) -> dict[str, Any]:
        return dict(self.client._call("POST", f"/schedules/{name}/resume").json())

    def run(self, name: str) -> dict[str, Any]:
        return dict(self.client._call("POST", f"/schedules/{name}/run").json())

    def history(self, name: str, limit: int) -> list[dict[str, Any]]:
        answer = self.client._call("GET", f"/schedules/{name}/history", params={"limit": limit})
        return list(answer.json()["firings"])
