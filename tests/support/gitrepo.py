"""Real git repositories made inside a test, with the git command line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.test",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.test",
}


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(cwd), **IDENTITY},
    )
    return result.stdout.strip()


@dataclass
class GitRepo:
    path: Path

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def write(self, files: dict[str, str]) -> None:
        for name, content in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)

    def commit(self, files: dict[str, str] | None = None, message: str = "change") -> str:
        self.write(files or {})
        git(self.path, "add", "--all")
        git(self.path, "commit", "--allow-empty", "-q", "-m", message)
        return self.head()

    def head(self, ref: str = "HEAD") -> str:
        return git(self.path, "rev-parse", ref)

    def branch(self, name: str) -> None:
        git(self.path, "checkout", "-q", "-B", name)

    def pull_request(self, number: int, files: dict[str, str], *, branch: str = "", keep_branch: bool = False) -> str:
        """Commit `files` on a branch off the current one, publish the commit as `refs/pull/<number>/head` (as GitHub
        does, fork or not), go back, and unless kept delete the branch (a fork's head: only the pull ref holds it);
        the head commit."""
        back = git(self.path, "rev-parse", "--abbrev-ref", "HEAD")
        branch = branch or f"topic-{number}"
        self.branch(branch)
        head = self.commit(files, f"pull request {number}")
        git(self.path, "update-ref", f"refs/pull/{number}/head", head)
        git(self.path, "checkout", "-q", back)
        if not keep_branch:
            git(self.path, "branch", "-q", "-D", branch)
        return head

    def tag(self, name: str, annotated: bool = False) -> str:
        if annotated:
            git(self.path, "tag", "-a", name, "-m", f"tag {name}")
        else:
            git(self.path, "tag", name)
        return git(self.path, "rev-parse", name)


def make_repo(path: Path, files: dict[str, str] | None = None, branch: str = "main") -> GitRepo:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    repo = GitRepo(path)
    repo.commit(files or {"README.md": "hello\n"}, "initial commit")
    return repo
