"""How `conveyor webhooks` reaches the webhook deliveries: through the server's REST API, or the same services
directly. Kept beside `conveyor.cli.client` (which it follows), as `notify_client` is."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from conveyor.cli.client import Client
from conveyor.cli.http_client import HttpClient
from conveyor.paging import Page


class WebhookClient(Protocol):
    def deliveries(
        self, repository: str | None, outcome: str | None, limit: int, next_token: str | None = None
    ) -> Page: ...
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

    def deliveries(
        self, repository: str | None, outcome: str | None, limit: int, next_token: str | None = None
    ) -> Page:
        asked = {"repository": repository, "outcome": outcome, "limit": limit, "nextToken": next_token}
        return self.client.page("/webhook-deliveries", "deliveries", **asked)

    def delivery(self, delivery_id: str) -> dict[str, Any]:
        return dict(self.client._call("GET", f"/webhook-deliveries/{quote(delivery_id, safe='')}").json())
