"""Printing answers: JSON for machines, short tables for people."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

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


def status_text(status: str | None) -> Text:
    """A status in its colour (a styled text, not markup: nothing in a table cell is read as markup)."""
    if status is None:
        return Text("-")
    return Text(status, style=STATUS_STYLES.get(status, ""))


def styled(*parts: str | Text | tuple[str, str]) -> Text:
    """A line of plain text, styled parts (`status_text`) and (text, style) pairs: what users wrote — a commit
    message's `[skip ci]`, an error's `[/]` — is shown as written, never read as markup."""
    return Text.assemble(*parts)


def print_table(
    columns: list[str], rows: list[list[Any]], title: str | None = None, whole: tuple[int, ...] = (0,)
) -> None:
    """A table as wide as the terminal, where the `whole` columns (by default the first: the id or name a next
    command takes) are never cut short and the others give way when the width runs out; piped or redirected, whole
    lines."""
    cells = [
        [cell if isinstance(cell, Text) else Text("" if cell is None else str(cell)) for cell in row] for row in rows
    ]
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for index, header in enumerate(columns):
        if index in whole:
            table.add_column(header, min_width=max((row[index].cell_len for row in cells), default=0), no_wrap=True)
        else:
            table.add_column(header)
    for row in cells:
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:  # piped or redirected: whole lines, as wide as they need, for grep and cut
        console = Console(width=max(console.width, 1000))
    console.print(table)
