"""Mirrors and pull requests, with real git repositories: heads only `refs/pull/<n>/head` holds, and the files a
pull request changes (from the merge base)."""

from __future__ import annotations

from pathlib import Path

import pytest
from git import Repo

from conveyor.git import Mirrors, RevisionNotFound
from tests.support.gitrepo import GitRepo, git, make_repo


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "remote", {"README.md": "hello\n", "src/app.py": "print(1)\n"})


@pytest.fixture
def mirrors(tmp_path: Path) -> Mirrors:
    return Mirrors(tmp_path / "mirrors", timeout=30, retries=1)


def mirror_refs(mirrors: Mirrors, remote: GitRepo) -> set[str]:
    with Repo(mirrors.path_for(remote.url)) as repo:
        return {ref.path for ref in repo.refs}


def test_a_head_no_branch_holds_is_fetched_through_the_pull_request_ref(mirrors: Mirrors, remote: GitRepo) -> None:
    head = remote.pull_request(7, {"src/app.py": "print(2)\n"})
    commit = mirrors.resolve(remote.url, commit=head, refs=("refs/pull/7/head",))
    assert commit.sha == head
    assert commit.message == "pull request 7"
    assert "refs/pull/7/head" in mirror_refs(mirrors, remote)


def test_a_head_a_branch_holds_needs_no_pull_request_ref(mirrors: Mirrors, remote: GitRepo) -> None:
    head = remote.pull_request(8, {"new.txt": "n\n"}, keep_branch=True)
    assert mirrors.resolve(remote.url, commit=head, refs=("refs/pull/8/head",)).sha == head
    assert "refs/pull/8/head" not in mirror_refs(mirrors, remote)
    assert "refs/heads/topic-8" in mirror_refs(mirrors, remote)


def test_a_pull_request_ref_the_remote_lacks_ends_in_the_missing_commit(mirrors: Mirrors, remote: GitRepo) -> None:
    missing = "e" * 40
    with pytest.raises(RevisionNotFound, match=missing):
        mirrors.resolve(remote.url, commit=missing, refs=("refs/pull/99/head",))


def test_the_files_of_a_pull_request_are_those_since_the_merge_base(mirrors: Mirrors, remote: GitRepo) -> None:
    head = remote.pull_request(3, {"src/app.py": "print(3)\n", "docs/new.md": "new\n"})
    base = remote.commit({"README.md": "changed on main since\n"}, "main moves on")
    files = mirrors.pull_request_files(remote.url, base, head, refs=("refs/pull/3/head",))
    assert files == {"src/app.py", "docs/new.md"}  # not README.md: main changed it, the pull request did not


def test_a_rename_in_a_pull_request_lists_both_sides(mirrors: Mirrors, remote: GitRepo) -> None:
    base = remote.head()
    remote.branch("topic")
    git(remote.path, "mv", "README.md", "GUIDE.md")
    head = remote.commit(None, "rename")
    assert mirrors.pull_request_files(remote.url, base, head) == {"README.md", "GUIDE.md"}


def test_a_head_without_common_history_changes_every_file_it_has(mirrors: Mirrors, remote: GitRepo) -> None:
    base = remote.head()
    git(remote.path, "checkout", "-q", "--orphan", "unrelated")
    git(remote.path, "rm", "-q", "-r", "--cached", ".")
    (remote.path / "README.md").unlink()
    (remote.path / "src" / "app.py").unlink()
    head = remote.commit({"other/one.txt": "1\n", "two.txt": "2\n"}, "unrelated root")
    assert mirrors.pull_request_files(remote.url, base, head) == {"other/one.txt", "two.txt"}


def test_an_unknown_head_is_revision_not_found(mirrors: Mirrors, remote: GitRepo) -> None:
    with pytest.raises(RevisionNotFound, match="d" * 40):
        mirrors.pull_request_files(remote.url, remote.head(), "d" * 40, refs=("refs/pull/5/head",))
