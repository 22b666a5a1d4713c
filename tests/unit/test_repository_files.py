"""The files Conveyor ships for users and for itself are valid by its own rules."""

from __future__ import annotations

from pathlib import Path

from conveyor.build.spec import parse_buildspec
from conveyor.devstack import read_procfile
from conveyor.pipeline.spec import parse_pipeline

ROOT = Path(__file__).resolve().parents[2]


def test_conveyors_own_buildspec_is_valid() -> None:
    spec = parse_buildspec((ROOT / "buildspec.yml").read_text(), "buildspec.yml")
    assert [phase.name for phase in spec.phases] == ["install", "pre_build", "build", "post_build"]
    assert spec.artifacts is not None
    assert spec.artifacts.files == ("dist/*.whl",)
    assert spec.not_yet_run == ()


def test_the_demo_pipeline_and_buildspec_are_valid() -> None:
    definition = parse_pipeline((ROOT / "examples/pipelines/demo.yml").read_text(), "demo.yml")
    assert [stage.name for stage in definition.stages] == ["Source", "Build"]
    spec = parse_buildspec((ROOT / "examples/demo-app/buildspec.yml").read_text(), "buildspec.yml")
    assert spec.exported_variables == ("APP_VERSION",)


def test_the_procfile_has_the_three_processes_and_web_listens_on_port() -> None:
    entries = {entry.name: entry.command for entry in read_procfile(ROOT / "Procfile")}
    assert set(entries) == {"web", "worker", "scheduler"}
    assert "${PORT" in entries["web"]
    assert "handlers.app:create_app()" in entries["web"]
