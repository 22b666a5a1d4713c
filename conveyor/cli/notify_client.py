"""How `conveyor notifications` reaches notification rules: through the server's REST API, or the same services
directly. Kept beside `conveyor.cli.client` (which it follows), as `deploy_client` is."""

from __future__ import annotations

from typing import Any, Protocol

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient


class NotifyClient(Protocol):
    def create_rule(self, document: Any) -> dict[str, Any]: ...
    def list_rules(self) -> list[dict[str, Any]]: ...
    def get_rule(self, name: str) -> dict[str, Any]: ...
    def delete_rule(self, name: str) -> None: ...
    def send_test(self, name: str) -> dict[str, Any]: ...
    def deliveries(self, name: str | None, limit: int) -> list[dict[str, Any]]: ...


def notify_client(client: Client) -> NotifyClient:
    if isinstance(client, HttpClient):
        return HttpNotifyClient(client)
    from conveyor.cli.local_client import LocalClient, LocalNotifyClient  # noqa: PLC0415 - see conveyor.cli.client.local_client

    if isinstance(client, LocalClient):
        return LocalNotifyClient(client)
    raise TypeError(f"no notifications client for {type(client).__name__}")


class HttpNotifyClient:
    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def create_rule(self, document: Any) -> dict[str, Any]:
        return dict(self.client._call("POST", "/notification-rules", json=document).json())

    def list_rules(self) -> list[dict[str, Any]]:
        return list(self.client._call("GET", "/notification-rules").json()["notificationRules"])

    def get_rule(self, name: str) -> dict[str, Any]:
        return dict(self.client._call("GET", f"/notification-rules/{name}").json())

    def delete_rule(self, name: str) -> None:
        self.client._call("DELETE", f"/notification-rules/{name}")

    def send_test(self, name: str) -> dict[str, Any]:
        return dict(self.client._call("POST", f"/notification-rules/{name}/test").json())

    def deliveries(self, name: str | None, limit: int) -> list[dict[str, Any]]:
        path = "/commit-statuses" if name is None else f"/notification-rules/{name}/deliveries"
        return list(self.client._call("GET", path, params={"limit": limit}).json()["deliveries"])
