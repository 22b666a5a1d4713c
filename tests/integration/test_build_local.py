"""`conveyor build local` and `conveyor buildspec validate`: the real engine, real bash, no server."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from conveyor.cli import main
from tests.support.git_http import git_http_server
from tests.support.gitrepo import make_repo

BUILDSPEC = """\
version: 0.2
env:
  variables:
    TARGET: buildspec
  exported-variables: [TARGET]
phases:
  build:
    commands:
      - mkdir -p out && echo "built for $TARGET" > out/result.txt
      - echo "commit=${CODEBUILD_RESOLVED_SOURCE_VERSION:-none}"
artifacts:
  files: [out/result.txt]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "buildspec.yml").write_text(BUILDSPEC)
    monkeypatch.chdir(root)
    return root


def conveyor(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_a_green_local_build_writes_the_artifact_and_log_and_leaves_the_source_alone(
    project: Path, tmp_path: Path
) -> None:
    result = conveyor("build", "local", "--artifacts", str(tmp_path / "artifacts"), "--env", "TARGET=cli")

    assert result.exit_code == 0, result.output
    assert "Running command mkdir -p out" in result.output
    assert "commit=none" in result.output
    assert "exported: TARGET=cli" in result.output
    with zipfile.ZipFile(tmp_path / "artifacts" / "artifact.zip") as archive:
        assert archive.read("out/result.txt") == b"built for cli\n"
    assert "Phase complete: BUILD State: SUCCEEDED" in (tmp_path / "artifacts" / "build.log").read_text()
    assert not (project / "out").exists()  # the build ran in a copy


def test_a_failing_command_fails_the_run_with_a_non_zero_exit(project: Path) -> None:
    (project / "buildspec.yml").write_text(
        BUILDSPEC.replace('      - echo "commit', '      - exit 4\n      - echo "commit')
    )

    result = conveyor("build", "local", "--in-place")

    assert result.exit_code == 1
    assert "Command did not exit successfully exit 4 exit status 4" in result.output
    assert "BUILD FAILED" in result.output
    assert (project / "out" / "result.txt").exists()  # in place: the build wrote into the directory itself


def test_an_invalid_buildspec_fails_before_any_command_runs(project: Path) -> None:
    (project / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - echo: oops\n")

    result = conveyor("build", "local")

    assert result.exit_code == 1
    assert "YAML_FILE_ERROR" in result.output
    assert "Running command" not in result.output


def test_a_buildspec_given_with_b_runs_against_the_current_directory(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yml"
    other.write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - test -f buildspec.yml\n")

    assert conveyor("build", "local", "-b", str(other)).exit_code == 0


def test_validate_accepts_good_files_and_lists_every_problem_of_bad_ones(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(BUILDSPEC)
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 0.3\nphases:\n  compile:\n    commands: [make]\n")

    assert conveyor("buildspec", "validate", str(good)).exit_code == 0
    result = conveyor("buildspec", "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:1: version: unsupported version '0.3'" in result.output
    assert f"{bad}:3: phases.compile: unknown phase" in result.output


def test_no_network_runs_the_local_build_in_the_sandbox_without_the_network(project: Path) -> None:
    with socket.socket() as server:  # listening on the host's loopback: unreachable from the sandbox
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        (project / "buildspec.yml").write_text(
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            "      - touch /usr/conveyor-probe || echo host-read-only\n"
            f"      - exec 3<>/dev/tcp/127.0.0.1/{server.getsockname()[1]} || echo offline\n"
        )

        result = conveyor("build", "local", "--no-network")

    assert result.exit_code == 0, result.output
    assert "Sandbox: bubblewrap, network off" in result.output
    assert "host-read-only" in result.output
    assert "offline" in result.output
    assert not Path("/usr/conveyor-probe").exists()


def test_no_network_without_the_sandbox_is_refused(project: Path) -> None:
    result = CliRunner().invoke(main, ["build", "local", "--no-sandbox", "--no-network"])

    assert result.exit_code == 2
    assert "--no-network needs the sandbox" in result.output


def test_cache_keeps_the_buildspecs_cache_between_local_runs(project: Path, tmp_path: Path) -> None:
    (project / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  install:\n    commands:\n"
        "      - '[ -d deps ] && echo cache-hit || { echo cache-miss; mkdir deps && touch deps/x; }'\n"
        "cache:\n  paths: [deps]\n"
    )

    first = conveyor("build", "local", "--cache", str(tmp_path / "cache"))
    second = conveyor("build", "local", "--cache", str(tmp_path / "cache"))
    without = conveyor("build", "local")

    assert first.exit_code == 0, first.output
    assert "cache-miss" in first.output
    assert "cache-hit" in second.output
    assert "cache-miss" in without.output
    assert "This build has no cache" in without.output
    assert not (project / "deps").exists()  # the runs built copies


def test_a_local_build_lends_git_the_servers_github_token(project: Path, tmp_path: Path) -> None:
    token = "ghp_local-token-0123456789"
    make_repo(tmp_path / "served" / "acme" / "library", {"VERSION": "2.0.1\n"})
    with git_http_server(tmp_path / "served", "x-access-token", token) as server:
        (project / "buildspec.yml").write_text(
            "version: 0.2\nenv:\n  git-credential-helper: yes\nphases:\n  build:\n    commands:\n"
            f"      - git clone -q {server.repository_url('acme/library')} library && cat library/VERSION\n"
        )
        settings = {
            "CONVEYOR_DATA_DIR": str(tmp_path / "data"),
            "CONVEYOR_GITHUB_TOKEN": token,
            "CONVEYOR_GITHUB_API_URL": f"{server.url}/api/v3",
        }
        result = CliRunner().invoke(main, ["build", "local"], env=settings, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "2.0.1" in result.output
    assert token not in result.output
