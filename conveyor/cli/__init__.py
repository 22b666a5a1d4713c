"""The `conveyor` command line."""

from __future__ import annotations

from conveyor.cli.main import main

__all__ = ["main"]
