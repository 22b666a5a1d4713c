"""How `conveyor webhooks` reaches the webhook deliveries: through the server's REST API, or the same services
directly. Kept beside `conveyor.cli.client` (which it follows), as `notify_client` is."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient


class WebhookClient(Protocol):
    def deliveries(self, repository: str | None, outcome: str | None, limit: int) -> list[dict[str, Any]]: ...
    def delivery(self, delivery_id: str) -> dict[str, Any]: ...


def webhook_client(client: Client) -> WebhookClient:
    if isinstance(client, HttpClient):
        return HttpWebhookClient(client)
    from conveyor.cli.local_client import LocalClient, LocalWebhookClient  # noqa: PLC0415 - see conveyor.cli.client.local_client

    if isinstance(client, LocalClient):
        return LocalWebhookClient(client)
    raise TypeError(f"no webhook client for {type(client).__name__}")


class HttpWebhookClient:
    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def deliveries(self, repository: str | None, outcome: str | None, limit: int) -> list[dict[str, Any]]:
        asked = {"repository": repository, "outcome": outcome, "limit": limit}
        params = {name: value for name, value in asked.items() if value is not None}
        return list(self.client._call("GET", "/webhook-deliveries", params=params).json()["deliveries"])

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.client._call("GET", f"/webhook-deliveries/{quote(delivery_id, safe='')}").json())
