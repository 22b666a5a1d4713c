"""Printing answers: JSON for machines, short tables for people."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.console import Console
from rich.table import Table

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
