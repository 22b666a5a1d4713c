"""Private repositories over HTTP: a token handed to git by a credential helper, for its own site only, never
written down or shown. The server is git's own `http-backend` behind Basic authentication."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.git import GitError, Mirrors
from conveyor.git_credentials import GitCredential, credential_environment, site_of
from tests.support.git_http import GitServer, git_http_server
from tests.support.gitrepo import GitRepo, make_repo

TOKEN = "ghp_private-token-0123456789"


@pytest.fixture
def served(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "served" / "acme" / "app", {"README.md": "private\n"})


@pytest.fixture
def server(tmp_path: Path, served: GitRepo) -> Iterator[GitServer]:
    with git_http_server(tmp_path / "served", "x-access-token", TOKEN) as running:
        yield running


def mirrors_with(tmp_path: Path, *credentials: GitCredential) -> Mirrors:
    return Mirrors(tmp_path / "mirrors", timeout=30, retries=1, credentials=credentials)


def test_the_token_for_the_repositorys_site_reads_it(tmp_path: Path, server: GitServer, served: GitRepo) -> None:
    url = server.repository_url("acme/app")
    mirrors = mirrors_with(tmp_path, GitCredential(server.url, TOKEN, "a test"))

    commit = mirrors.resolve(url, branch="main")
    mirrors.archive(url, commit.sha, tmp_path / "source.zip")

    assert commit.sha == served.head()
    assert ("x-access-token", TOKEN) in server.credentials_seen
    written = [p for p in (tmp_path / "mirrors").rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert written == []  # not in the mirror's config, its packed refs or anywhere else


def test_without_a_token_the_error_says_what_is_missing(tmp_path: Path, server: GitServer) -> None:
    with pytest.raises(GitError) as failed:
        mirrors_with(tmp_path).resolve(server.repository_url("acme/app"), branch="main")

    assert "Authentication failed" in failed.value.message
    assert f"no token is configured for {server.url}" in failed.value.message
    assert "CONVEYOR_GITHUB_TOKEN" in failed.value.message


def test_a_refused_token_is_named_by_where_it_came_from_never_shown(tmp_path: Path, server: GitServer) -> None:
    wrong = "ghp_expired-token-9876543210"
    mirrors = mirrors_with(tmp_path, GitCredential(server.url, wrong, "the action's OAuthToken"))

    with pytest.raises(GitError) as failed:
        mirrors.resolve(server.repository_url("acme/app"), branch="main")

    assert "the token from the action's OAuthToken was refused" in failed.value.message
    assert wrong not in failed.value.message
    assert ("x-access-token", wrong) in server.credentials_seen


def test_refused_credentials_in_the_url_are_told_as_such_never_shown(tmp_path: Path, server: GitServer) -> None:
    url = server.repository_url("acme/app").replace("http://", "http://x-access-token:wrong-secret-1@")

    with pytest.raises(GitError) as failed:
        mirrors_with(tmp_path).resolve(url, branch="main")

    assert "the credentials written into the repository's URL were refused" in failed.value.message
    assert "wrong-secret-1" not in failed.value.message


def test_a_token_goes_only_to_its_own_site(tmp_path: Path, server: GitServer) -> None:
    elsewhere = GitCredential("http://127.0.0.1:1", TOKEN, "a test")  # the same host, another port

    with pytest.raises(GitError):
        mirrors_with(tmp_path, elsewhere).resolve(server.repository_url("acme/app"), branch="main")

    assert server.credentials_seen  # it was asked
    assert set(server.credentials_seen) == {None}


def test_a_public_repository_needs_no_token_and_ignores_one(tmp_path: Path) -> None:
    remote = make_repo(tmp_path / "public", {"README.md": "open\n"})
    mirrors = mirrors_with(tmp_path, GitCredential("https://github.com", TOKEN, "a test"))

    assert mirrors.resolve(remote.url, branch="main").sha == remote.head()


def test_settings_the_callers_environment_passes_to_git_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    callers = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "user.name", "GIT_CONFIG_VALUE_0": "Kept"}
    for name, value in callers.items():
        monkeypatch.setenv(name, value)

    environment = credential_environment((GitCredential("https://git.example.test", TOKEN, "a test"),))

    assert environment["GIT_CONFIG_COUNT"] == "2"
    assert environment["GIT_CONFIG_KEY_1"] == "credential.https://git.example.test.helper"
    assert TOKEN not in environment["GIT_CONFIG_VALUE_1"]  # the helper reads it from the environment
    shown = subprocess.run(
        ["git", "config", "--get-regexp", "^(user|credential)"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", **callers, **environment},
    ).stdout
    assert "user.name Kept" in shown
    assert "credential.https://git.example.test.helper" in shown


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("https://github.com/acme/app.git", "https://github.com"),
        ("https://user:secret@GitHub.com/acme/app", "https://github.com"),
        ("http://127.0.0.1:8080/acme/app.git", "http://127.0.0.1:8080"),
        ("git@github.com:acme/app.git", None),
        ("ssh://git@github.com/acme/app", None),
        ("file:///srv/git/app.git", None),
    ],
)
def test_the_site_of_a_url(url: str, site: str | None) -> None:
    assert site_of(url) == site


def test_an_unknown_ssh_host_key_fails_at_once_saying_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git's ssh transport run for real, with an ssh that answers as OpenSSH does for a host it does not know
    ssh = tmp_path / "ssh"
    ssh.write_text("#!/bin/sh\necho 'Host key verification failed.' >&2\nexit 255\n")
    ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(ssh))
    waits: list[float] = []
    mirrors = Mirrors(tmp_path / "mirrors", timeout=30, retries=3, sleep=waits.append)

    with pytest.raises(GitError) as failed:
        mirrors.resolve("ssh://git@git.example.test/acme/app.git", branch="main")

    assert "Host key verification failed" in failed.value.message
    assert "add it to that user's ~/.ssh/known_hosts" in failed.value.message
    assert waits == []  # no retry: waiting does not teach ssh the key
