"""Printing answers: JSON for machines, short tables for people."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from conveyor.paging import Page

STATUS_STYLES = {
    "Succeeded": "green",
    "SUCCEEDED": "green",
    "Failed": "red",
    "FAILED": "red",
    "FAULT": "red",
    "InProgress": "yellow",
    "IN_PROGRESS": "yellow",
    "Stopped": "magenta",
    "TIMED_OUT": "red",
}

output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="How to print the answer.",
)


next_token_option = click.option(
    "--next-token", help="Go on from where the previous page ended (the token it printed after its last line)."
)


def print_page(page: Page, output: str, headers: list[str], row: Callable[[dict[str, Any]], list[Any]]) -> None:
    """A page of a list as JSON (the items) or a table; when more follow, how to see them, on standard error."""
    if output == "json":
        print_json(page.items)
    else:
        print_table(headers, [row(item) for item in page.items])
    if page.next_token is not None:
        click.echo(f"more: add --next-token {page.next_token}", err=True)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


def status_text(status: str | None) -> str:
    if status is None:
        return "-"
    style = STATUS_STYLES.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def print_table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    table = Table(*columns, title=title, title_justify="left", show_edge=False, pad_edge=False)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console().print(table)
