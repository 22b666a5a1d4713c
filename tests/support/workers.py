"""Worker processes started by a test: the environment that gives them the test's settings."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from conveyor.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def worker_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with the test's settings as `CONVEYOR_*` variables, and this checkout importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env |= {
        f"CONVEYOR_{f.name.upper()}": str(getattr(settings, f.name))
        for f in dataclasses.fields(settings)
        if f.name != "compute_types"
    }
    return env | {"PYTHONPATH": str(ROOT)}
