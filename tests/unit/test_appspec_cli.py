"""`conveyor appspec validate`: a line per valid file, every problem of the others with path and line, exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from conveyor.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "appspec"


def conveyor(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_valid_files_of_every_kind_give_their_kind_and_hooks(tmp_path: Path) -> None:
    names = ["host-linux.yml", "lambda-lower-case.json", "ecs-fargate.yml"]
    paths = [str(shutil.copy(CORPUS / name, tmp_path / name)) for name in names]

    result = conveyor("appspec", "validate", *paths)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{paths[0]}: valid (EC2/on-premises AppSpec; 5 hooks: ApplicationStop, BeforeInstall, AfterInstall, "
        "ApplicationStart, ValidateService)",
        f"{paths[1]}: valid (AWS Lambda AppSpec; 1 hook: AfterAllowTraffic)",
        f"{paths[2]}: valid (Amazon ECS AppSpec; 5 hooks: BeforeInstall, AfterInstall, AfterAllowTestTraffic, "
        "BeforeAllowTraffic, AfterAllowTraffic)",
    ]


def test_every_problem_of_every_bad_file_with_path_and_line_and_exit_1(tmp_path: Path) -> None:
    good = tmp_path / "appspec.yml"
    good.write_text("version: 0.0\nos: linux\n")
    bad_host = tmp_path / "bad-host.yml"
    bad_host.write_text("version: 0.0\nos: linux\nhooks:\n  Install:\n    - location: x.sh\n  AfterInstall: run.sh\n")
    bad_ecs = tmp_path / "bad-ecs.json"
    bad_ecs.write_text(
        '{"version": 0.0,\n "Resources": [{"svc": {"Type": "AWS::ECS::Service",\n'
        ' "Properties": {"TaskDefinition": "web:3"}}}]}\n'
    )

    result = conveyor("appspec", "validate", str(good), str(bad_host), str(bad_ecs))

    assert result.exit_code == 1
    assert f"{good}: valid (EC2/on-premises AppSpec; 0 hooks)" in result.output
    assert f"{bad_host}: 2 problems" in result.output
    assert f"{bad_host}:4: hooks.Install: Install is run by CodeDeploy itself" in result.output
    assert f"{bad_host}:6: hooks.AfterInstall: must be a list of scripts" in result.output
    assert f"{bad_ecs}:3: Resources[0].svc.Properties: missing required key 'LoadBalancerInfo'" in result.output


def test_notes_are_shown_for_valid_files(tmp_path: Path) -> None:
    path = tmp_path / "appspec.json"
    shutil.copy(CORPUS / "ecs-pipeline-placeholder.json", path)

    result = conveyor("appspec", "validate", str(path))

    assert result.exit_code == 0
    assert (
        f"  note: {path}:8: Resources[0].TargetService.Properties.TaskDefinition: <TASK_DEFINITION> is a placeholder"
        in result.output
    )


def test_the_compute_platform_can_be_named(tmp_path: Path) -> None:
    path = tmp_path / "appspec.yml"
    path.write_text("version: 0.0\nos: linux\n")

    result = conveyor("appspec", "validate", "--compute-platform", "Lambda", str(path))

    assert result.exit_code == 1
    assert f"{path}:2: os: unknown key 'os' (it belongs to EC2/on-premises AppSpecs)" in result.output
    assert f"{path}:1: (document): missing required key 'Resources'" in result.output


def test_a_missing_file_is_a_usage_error() -> None:
    result = conveyor("appspec", "validate", "no-such-appspec.yml")

    assert result.exit_code == 2
    assert "does not exist" in result.output
