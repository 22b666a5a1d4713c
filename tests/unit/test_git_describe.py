"""How a mirror describes a commit (the source action's output variables), checked against GitPython's reading of
the same commit object: time zones east and west, names and messages beyond ASCII, empty and multi-line messages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from git import Repo

from conveyor.git import CommitInfo, Mirrors
from tests.support.gitrepo import GitRepo, make_repo


def _commit(repo: GitRepo, message: str, author: str, email: str, date: str) -> str:
    environment = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(repo.path),
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": "Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.test",
        "GIT_COMMITTER_DATE": "2024-02-29T23:59:59-0330",
    }
    subprocess.run(
        ["git", "commit", "--allow-empty", "--allow-empty-message", "-q", "-F", "-"],
        cwd=repo.path,
        input=message.encode(),
        env=environment,
        check=True,
    )
    return repo.head()


def _as_gitpython_reads_it(path: Path, sha: str) -> CommitInfo:
    with Repo(path) as repo:
        commit = repo.commit(sha)
        message = commit.message if isinstance(commit.message, str) else commit.message.decode(errors="replace")
        return CommitInfo(
            sha=commit.hexsha,
            message=message.strip(),
            author_name=str(commit.author.name),
            author_email=str(commit.author.email),
            author_date=commit.authored_datetime.isoformat(),
            committer_date=commit.committed_datetime.isoformat(),
        )


@pytest.mark.parametrize(
    ("message", "author", "date"),
    [
        ("one line", "Ada Lovelace", "2023-06-01T12:00:00+0000"),
        ("subject\n\nbody line one\n  indented\n\n", "Jürgen Groß", "2023-06-01T12:00:00+0530"),
        ("émoji 🚀 and\ttab", "李小龙", "1999-12-31T23:59:59-0800"),
        ("", 'Ann "Quote" Smith', "2030-01-01T00:00:00+1345"),
    ],
)
def test_a_commit_is_described_as_gitpython_reads_it(tmp_path: Path, message: str, author: str, date: str) -> None:
    remote = make_repo(tmp_path / "remote", {"README.md": "hello\n"})
    sha = _commit(remote, message, author, "someone@example.test", date)
    mirrors = Mirrors(tmp_path / "mirrors", retries=1)
    described = mirrors.resolve(remote.url, branch="main")
    assert described == mirrors.resolve(remote.url, commit=sha)  # served from the mirror the second time
    assert described == _as_gitpython_reads_it(mirrors.path_for(remote.url), sha)
    assert described.sha == sha
    assert described.author_name == author
