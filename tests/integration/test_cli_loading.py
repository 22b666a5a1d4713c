"""The command line against a server: a command loads what it needs to ask the server, not the database layer, the
engines and boto3 that direct access needs (every command is imported only when it runs), and a refused token is
explained."""

from __future__ import annotations

import dataclasses
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask

import conveyor.cli
from conveyor.cli.main import COMMAND_MODULES, main
from conveyor.config import Settings
from conveyor.runtime import Runtime
from tests.support.cli import settings_environment

# What a command loads does not depend on the database behind the server: SQLite alone.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
HEAVY = (
    "sqlalchemy",
    "alembic",
    "boto3",
    "rq",
    "jsonschema",
    "conveyor.db",
    "conveyor.runtime",
    "conveyor.build.engine",
)
_REPORT = """
import json, sys
from conveyor.cli import main
try:
    main(sys.argv[1:], prog_name="conveyor")
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "loaded": [m for m in %r if m in sys.modules]}))
"""


def _run(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _REPORT % (HEAVY,), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert done.stdout, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


@sqlite_only
@pytest.mark.parametrize(
    "command",
    [
        ("executions", "list"),
        ("pipeline", "list"),
        ("builds", "list"),
        ("webhooks", "deliveries"),
        ("schedules", "list"),
        ("notifications", "list"),
        ("applications", "list"),
        ("chatops", "log"),
        ("deploy", "list", "--help"),  # its imports, without a deployment group to ask about
    ],
    ids=" ".join,
)
def test_a_command_against_a_server_loads_no_direct_access(server_url: str, command: tuple[str, ...]) -> None:
    report = _run("--server", server_url, *command, "--output", "json")

    assert report == {"code": 0, "loaded": []}


@sqlite_only
def test_direct_access_loads_the_services_when_it_is_chosen(settings: Settings, rt: Runtime) -> None:
    report = _run("--direct", "executions", "list", "--output", "json", env=settings_environment(settings))

    assert report["code"] == 0
    assert {"sqlalchemy", "conveyor.db", "conveyor.runtime"} <= set(report["loaded"])


def test_every_command_any_cli_module_defines_is_listed_with_its_module() -> None:
    defined = {  # every module of the command line, found on disk: one added later is not left out
        command.name: found.name
        for found in pkgutil.iter_modules(conveyor.cli.__path__)
        for command in getattr(importlib.import_module(f"conveyor.cli.{found.name}"), "COMMANDS", [])
    }

    assert {name: modules[0] for name, modules in COMMAND_MODULES.items()} == defined
    assert all(main.get_command(None, name) is not None for name in defined)  # type: ignore[arg-type]


@sqlite_only
def test_a_refused_token_says_where_the_cli_takes_its_token_from(app: Flask, server_url: str) -> None:
    runtime = app.extensions["conveyor"]
    runtime.settings = dataclasses.replace(runtime.settings, api_token="t0ken")

    refused = CliRunner().invoke(main, ["--server", server_url, "executions", "list"], env={"CONVEYOR_API_TOKEN": "x"})
    accepted = CliRunner().invoke(main, ["--server", server_url, "builds", "list"], env={"CONVEYOR_API_TOKEN": "t0ken"})

    assert refused.exit_code == 1
    assert refused.output == (
        "error: missing or wrong API token (Authorization: Bearer <token>): the CLI sends CONVEYOR_API_TOKEN "
        "(or api_token in the config file) as that token\n"
    )
    assert accepted.exit_code == 0, accepted.output
