"""`git-credential-helper: yes`: git commands in a build read a private repository with the token Conveyor reads
sources with, presented to its own site only and never shown in the log; in the bubblewrap sandbox as well."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.build.status import BuildStatus
from conveyor.git_credentials import GitCredential
from tests.support.git_http import GitServer, git_http_server
from tests.support.gitrepo import make_repo
from tests.unit.test_build_runner import phase, run_build, spec

TOKEN = "ghp_build-token-0123456789"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    make_repo(tmp_path / "served" / "acme" / "library", {"VERSION": "1.4.2\n"})
    with git_http_server(tmp_path / "served", "x-access-token", TOKEN) as running:
        yield running


def buildspec(helper: str, url: str) -> str:
    return spec(
        phase(
            "build",
            f"git clone -q {url} library",
            "cat library/VERSION",
            'echo "the token is ${CONVEYOR_GIT_TOKEN_0:-unset}"',
        ),
        head=f"env:\n  git-credential-helper: {helper}\n",
    )


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_git_in_the_build_clones_a_private_repository(tmp_path: Path, server: GitServer, sandbox: str) -> None:
    url = server.repository_url("acme/library")

    build = run_build(
        tmp_path,
        {"buildspec.yml": buildspec("yes", url)},
        sandbox=sandbox,
        git_credentials=(GitCredential(server.url, TOKEN, "CONVEYOR_GITHUB_TOKEN"),),
    )

    assert build.result.status is BuildStatus.SUCCEEDED, build.log
    assert "1.4.2" in build.output
    assert "the token is ***" in build.output  # a command may read it; the log never shows it
    assert TOKEN not in build.log
    assert f"git-credential-helper: git presents the token from CONVEYOR_GITHUB_TOKEN to {server.url}" in build.log


def test_without_the_helper_the_build_gets_no_token(tmp_path: Path, server: GitServer) -> None:
    build = run_build(
        tmp_path,
        {"buildspec.yml": buildspec("no", server.repository_url("acme/library"))},
        git_credentials=(GitCredential(server.url, TOKEN, "CONVEYOR_GITHUB_TOKEN"),),
        environment={"GIT_TERMINAL_PROMPT": "0"},
    )

    assert build.result.status is BuildStatus.FAILED
    assert "could not read Username" in build.log
    assert set(server.credentials_seen) == {None}


def test_the_helper_with_no_token_to_lend_says_so(tmp_path: Path, server: GitServer) -> None:
    build = run_build(
        tmp_path,
        {"buildspec.yml": buildspec("yes", server.repository_url("acme/library"))},
        environment={"GIT_TERMINAL_PROMPT": "0"},
    )

    assert build.result.status is BuildStatus.FAILED
    assert "git-credential-helper: Conveyor has no token to lend (CONVEYOR_GITHUB_TOKEN is not set)" in build.log
