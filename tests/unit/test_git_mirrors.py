"""Bare mirrors with real git repositories: resolve, fetch with retry and timeout, archive, no leaked processes."""

from __future__ import annotations

import os
import socket
import threading
import traceback
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
from git import Repo

from conveyor.git import CommitInfo, GitError, Mirrors, RevisionNotFound, commit_all, redact
from tests.support.gitrepo import GitRepo, git, make_repo


class SleepRecorder:
    """Stands in for time.sleep: remembers how long it was asked to wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def remote(tmp_path: Path) -> GitRepo:
    return make_repo(tmp_path / "remote", {"README.md": "hello\n"})


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def mirrors(tmp_path: Path, sleeps: SleepRecorder) -> Mirrors:
    return Mirrors(tmp_path / "mirrors", timeout=30, retries=3, sleep=sleeps)


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word; its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()


def child_processes(needle: str) -> list[str]:
    """Command lines of this process's children that contain `needle`."""
    try:
        import psutil
    except ImportError:
        return _children_from_proc(needle)
    children = psutil.Process().children()
    return [" ".join(child.cmdline()) for child in children if needle in " ".join(child.cmdline())]


def _children_from_proc(needle: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended while we looked
            continue
        parent = int(status.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and needle in command:
            found.append(command)
    return found


# Resolving.


def test_resolve_describes_the_branch_head(mirrors: Mirrors, remote: GitRepo) -> None:
    sha = remote.commit({"app.py": "print('hi')\n"}, "add the app\n\nwith a body")

    info = mirrors.resolve(remote.url, branch="main")

    assert isinstance(info, CommitInfo)
    assert info.sha == sha
    assert info.message == "add the app\n\nwith a body"
    assert info.author_name == "Test Author"
    assert info.author_email == "author@example.test"
    authored, committed = git(remote.path, "log", "-1", "--format=%aI %cI").split()
    assert datetime.fromisoformat(info.author_date) == datetime.fromisoformat(authored)
    assert datetime.fromisoformat(info.committer_date) == datetime.fromisoformat(committed)


def test_resolve_an_exact_older_commit(mirrors: Mirrors, remote: GitRepo) -> None:
    older = remote.head()
    remote.commit({"later.txt": "later\n"}, "later change")

    info = mirrors.resolve(remote.url, branch="main", commit=older)

    assert info.sha == older
    assert info.message == "initial commit"


def test_resolve_an_abbreviated_commit(mirrors: Mirrors, remote: GitRepo) -> None:
    sha = remote.head()
    remote.commit(message="later change")

    assert mirrors.resolve(remote.url, commit=sha[:10]).sha == sha


def test_resolve_after_a_push_fetches_the_new_head(mirrors: Mirrors, remote: GitRepo) -> None:
    first = mirrors.resolve(remote.url, branch="main")
    pushed = remote.commit({"new.txt": "new\n"}, "pushed later")

    second = mirrors.resolve(remote.url, branch="main")

    assert first.sha != pushed
    assert second.sha == pushed
    assert second.message == "pushed later"


def test_resolve_other_branches(mirrors: Mirrors, remote: GitRepo) -> None:
    main = remote.head()
    remote.branch("feature/x")
    feature = remote.commit({"f.txt": "f\n"}, "feature work")

    assert mirrors.resolve(remote.url, branch="feature/x").sha == feature
    assert mirrors.resolve(remote.url, branch="main").sha == main


def test_a_commit_already_in_the_mirror_is_served_without_the_remote(
    mirrors: Mirrors, remote: GitRepo, tmp_path: Path
) -> None:
    sha = mirrors.resolve(remote.url, branch="main").sha
    url = remote.url
    remote.path.rename(tmp_path / "moved-away")

    assert mirrors.resolve(url, commit=sha).sha == sha
    with pytest.raises(GitError):
        mirrors.resolve(url, branch="main")  # proves the remote is really gone


@pytest.mark.parametrize("already_mirrored", [False, True])
def test_an_annotated_tag_object_resolves_to_its_commit(
    mirrors: Mirrors, remote: GitRepo, already_mirrored: bool
) -> None:
    commit = remote.commit({"v.txt": "1\n"}, "release")
    tag_object = remote.tag("v1.0", annotated=True)
    remote.commit(message="after the release")
    assert tag_object != commit
    if already_mirrored:
        mirrors.resolve(remote.url, branch="main")

    assert mirrors.resolve(remote.url, commit=tag_object).sha == commit


def test_a_missing_branch_is_revision_not_found_naming_it(mirrors: Mirrors, remote: GitRepo) -> None:
    with pytest.raises(RevisionNotFound, match="'no-such-branch'"):
        mirrors.resolve(remote.url, branch="no-such-branch")


@pytest.mark.parametrize("commit", ["0" * 40, "deadbeefdeadbeef"])
def test_a_missing_commit_is_revision_not_found(mirrors: Mirrors, remote: GitRepo, commit: str) -> None:
    with pytest.raises(RevisionNotFound, match=commit):
        mirrors.resolve(remote.url, branch="main", commit=commit)


def test_neither_branch_nor_commit_is_revision_not_found(mirrors: Mirrors, remote: GitRepo) -> None:
    with pytest.raises(RevisionNotFound):
        mirrors.resolve(remote.url)


def test_a_revision_that_looks_like_an_option_is_never_run(mirrors: Mirrors, remote: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    with pytest.raises(RevisionNotFound):
        mirrors.resolve(remote.url, commit=f"--upload-pack=touch {marker};false")

    assert not marker.exists()


def test_a_url_that_looks_like_an_option_is_never_run(mirrors: Mirrors, tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    with pytest.raises(GitError):
        mirrors.resolve(f"--upload-pack=touch {marker};false", branch="main")

    assert not marker.exists()


# Failing to reach the repository.


def test_a_nonexistent_repository_is_a_readable_git_error_without_retries(
    mirrors: Mirrors, tmp_path: Path, sleeps: SleepRecorder
) -> None:
    missing = (tmp_path / "no-such-repo").as_uri()

    with pytest.raises(GitError) as caught:
        mirrors.resolve(missing, branch="main")

    assert type(caught.value) is GitError
    assert caught.value.message.startswith(f"git fetch from {missing} failed: ")
    assert "does not appear to be a git repository" in caught.value.message
    assert sleeps.waits == []  # retrying cannot make it exist


def test_credentials_in_the_url_never_appear_in_the_error(tmp_path: Path, sleeps: SleepRecorder) -> None:
    url = f"https://deploy-user:s3cr3t-t0ken@127.0.0.1:{closed_port()}/team/app.git"
    mirrors = Mirrors(tmp_path / "mirrors", timeout=30, retries=2, sleep=sleeps)

    with pytest.raises(GitError) as caught:
        mirrors.resolve(url, branch="main")

    shown = "".join(traceback.format_exception(caught.value))
    assert "s3cr3t-t0ken" not in shown
    assert "s3cr3t-t0ken" not in repr(caught.value)
    assert "https://***@127.0.0.1" in caught.value.message
    assert "s3cr3t-t0ken" not in mirrors.path_for(url).name


def test_redact_hides_user_and_password() -> None:
    text = "fetch https://user:tok@github.com/a/b.git and ssh://git@host/x and https://plain.example/y"

    assert redact(text) == "fetch https://***@github.com/a/b.git and ssh://***@host/x and https://plain.example/y"


def test_a_transient_failure_is_retried_with_waits_between_attempts(tmp_path: Path, sleeps: SleepRecorder) -> None:
    url = f"git://127.0.0.1:{closed_port()}/x"
    mirrors = Mirrors(tmp_path / "mirrors", timeout=30, retries=3, sleep=sleeps)

    with pytest.raises(GitError, match="Connection refused"):
        mirrors.resolve(url, branch="main")

    assert sleeps.waits == [2.0, 4.0]  # three attempts, a growing wait between each two


def test_a_fetch_that_hangs_is_stopped_by_the_timeout(tmp_path: Path, silent_server: int) -> None:
    mirrors = Mirrors(tmp_path / "mirrors", timeout=1, retries=1, sleep=SleepRecorder())

    with pytest.raises(GitError, match="did not complete"):
        mirrors.resolve(f"git://127.0.0.1:{silent_server}/x", branch="main")


# Archives.


def test_archive_holds_exactly_the_tree_of_the_commit(mirrors: Mirrors, remote: GitRepo, tmp_path: Path) -> None:
    wanted = remote.commit({"app.py": "version = 1\n", "lib/util.py": "def f(): ...\n"}, "version 1")
    remote.commit({"app.py": "version = 2\n", "later.txt": "not in the archive\n"}, "version 2")
    mirrors.resolve(remote.url, branch="main")
    destination = tmp_path / "source.zip"

    mirrors.archive(remote.url, wanted, destination)

    with zipfile.ZipFile(destination) as archive:
        files = sorted(name for name in archive.namelist() if not name.endswith("/"))
        assert files == ["README.md", "app.py", "lib/util.py"]
        assert archive.read("app.py") == b"version = 1\n"
    assert not any(part == ".git" for name in files for part in name.split("/"))


def test_archive_of_a_commit_not_in_the_mirror_is_revision_not_found(
    mirrors: Mirrors, remote: GitRepo, tmp_path: Path
) -> None:
    mirrors.resolve(remote.url, branch="main")
    destination = tmp_path / "source.zip"

    for revision in ["0" * 40, f"--remote={remote.url}"]:
        with pytest.raises(RevisionNotFound):
            mirrors.archive(remote.url, revision, destination)

    assert not destination.exists()


# Sharing mirrors.


def test_two_threads_resolving_one_new_mirror_both_succeed(tmp_path: Path, remote: GitRepo) -> None:
    sha = remote.commit({"x.txt": "x\n"}, "x")
    workers = [Mirrors(tmp_path / "mirrors", timeout=30, retries=1) for _ in range(2)]
    start = threading.Barrier(2)

    def resolve(mirrors: Mirrors) -> str:
        start.wait(timeout=10)
        return mirrors.resolve(remote.url, branch="main").sha

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [future.result(timeout=60) for future in [pool.submit(resolve, m) for m in workers]]

    assert results == [sha, sha]
    assert [p.suffix for p in (tmp_path / "mirrors").iterdir() if p.is_dir()] == [".git"]


def test_each_url_has_its_own_mirror(tmp_path: Path, mirrors: Mirrors) -> None:
    one = make_repo(tmp_path / "one", {"one.txt": "1\n"})
    two = make_repo(tmp_path / "two", {"two.txt": "2\n"})

    assert mirrors.resolve(one.url, branch="main").sha == one.head()
    assert mirrors.resolve(two.url, branch="main").sha == two.head()
    assert mirrors.path_for(one.url) != mirrors.path_for(two.url)
    assert mirrors.path_for(one.url) == mirrors.path_for(one.url)


# GitPython must not leave `git cat-file` processes behind.


def test_the_leak_check_sees_a_repo_left_open(remote: GitRepo) -> None:
    with Repo(remote.path) as repo:
        assert repo.commit("HEAD").message
        assert child_processes("cat-file")
    assert child_processes("cat-file") == []


def test_many_resolves_and_archives_leave_no_git_processes(mirrors: Mirrors, remote: GitRepo, tmp_path: Path) -> None:
    shas = [remote.commit({"n.txt": f"{n}\n"}, f"change {n}") for n in range(5)]

    for n, sha in enumerate(shas):
        assert mirrors.resolve(remote.url, branch="main").sha == shas[-1]
        assert mirrors.resolve(remote.url, commit=sha).sha == sha
        mirrors.archive(remote.url, sha, tmp_path / f"{n}.zip")

    assert child_processes("cat-file") == []
    assert child_processes("git") == []


# commit_all.


def test_commit_all_makes_a_repository_and_commits_everything(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "src").mkdir(parents=True)
    (work / "src" / "app.py").write_text("print(1)\n")

    sha = commit_all(work, "first commit")

    assert git(work, "rev-parse", "HEAD") == sha
    assert git(work, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(work, "ls-files") == "src/app.py"
    assert git(work, "log", "-1", "--format=%an <%ae>|%s") == "Conveyor <conveyor@localhost>|first commit"
    assert child_processes("cat-file") == []


def test_commit_all_adds_to_an_existing_repository(remote: GitRepo) -> None:
    before = remote.head()
    (remote.path / "README.md").unlink()
    (remote.path / "new.txt").write_text("new\n")

    sha = commit_all(remote.path, "replace readme", author="Jane Doe <jane@example.test>")

    assert git(remote.path, "rev-parse", "HEAD^") == before
    assert remote.head() == sha
    assert git(remote.path, "ls-files") == "new.txt"
    assert git(remote.path, "log", "-1", "--format=%an <%ae>") == "Jane Doe <jane@example.test>"


def test_commit_all_commits_even_when_nothing_changed(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    first = commit_all(work, "one", branch="trunk")

    second = commit_all(work, "two", branch="trunk")

    assert second != first
    assert git(work, "rev-parse", "--abbrev-ref", "HEAD") == "trunk"
    assert git(work, "rev-parse", "HEAD^") == first


def test_changed_files_between_two_commits_list_both_sides_of_a_rename(mirrors: Mirrors, remote: GitRepo) -> None:
    before = remote.head()
    remote.commit({"src/app.py": "x\n"}, "add")
    git(remote.path, "mv", "README.md", "docs with space.md")
    after = remote.commit(None, "rename")
    assert mirrors.changed_files(remote.url, before, after) == {"src/app.py", "README.md", "docs with space.md"}


def test_changed_files_of_a_new_branch_are_those_of_its_head_commit(mirrors: Mirrors, remote: GitRepo) -> None:
    after = remote.commit({"feature.txt": "f\n"}, "feature")
    assert mirrors.changed_files(remote.url, "0" * 40, after) == {"feature.txt"}
    assert mirrors.changed_files(remote.url, "f" * 40, after) == {"feature.txt"}  # history rewritten past `before`


def test_changed_files_of_an_unknown_commit(mirrors: Mirrors, remote: GitRepo) -> None:
    with pytest.raises(RevisionNotFound):
        mirrors.changed_files(remote.url, remote.head(), "e" * 40)
