"""Running the `conveyor` command line inside a test, on the test's own settings."""

from __future__ import annotations

import dataclasses

from conveyor.config import Settings


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as `CONVEYOR_*` variables (lists comma-separated), so a command sees what the test's runtime
    does."""
    environment = {}
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if value is None:
            continue
        text = ",".join(value) if isinstance(value, tuple) else str(value)
        environment[f"CONVEYOR_{field.name.upper()}"] = text
    return environment
