"""The one way to git: a bare mirror per repository, fetched with a timeout and a bounded retry.

A source action fetches into the mirror of its repository (under a file lock, so two jobs on one machine never
fetch the same mirror at once), resolves the exact commit, and exports that commit's tree as a zip (or, for a full
clone, makes a working clone of the mirror at that commit). Every GitPython
`Repo` is closed when its block ends: left open, each one keeps `git cat-file` processes alive.

A private repository over HTTPS is read with a token (`conveyor.git_credentials`). Beside those, git's own
configuration of the user running Conveyor (credential helpers, ssh keys) applies as it would on the command line.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from git import GitCommandError, InvalidGitRepositoryError, NoSuchPathError, Repo

from conveyor.errors import ConveyorError
from conveyor.git_credentials import GitCredential, credential_environment, site_of
from conveyor.redaction import redact

_FULL_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "LC_ALL": "C"}


class GitError(ConveyorError):
    """A git operation failed (unreachable repository, timeout, corrupt mirror)."""


class RevisionNotFound(GitError):
    """The branch, tag or commit asked for is not in the repository."""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    message: str
    author_name: str
    author_email: str
    author_date: str  # ISO 8601
    committer_date: str


class Mirrors:
    """Bare mirrors of remote repositories under one directory, one per clone URL; `credentials` are presented to
    their sites (at most one per site)."""

    def __init__(
        self,
        root: Path,
        *,
        timeout: float = 300.0,
        retries: int = 3,
        sleep: Callable[[float], None] = time.sleep,
        credentials: tuple[GitCredential, ...] = (),
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.retries = retries
        self.sleep = sleep
        self.credentials = credentials

    def path_for(self, url: str) -> Path:
        digest = hashlib.sha256(url.encode()).hexdigest()[:24]
        return self.root / f"{digest}.git"

    def resolve(
        self, url: str, *, branch: str | None = None, commit: str | None = None, refs: tuple[str, ...] = ()
    ) -> CommitInfo:
        """Bring the mirror up to date as needed and describe the commit wanted (a given commit, or the branch head).

        `refs` name further refs that may hold a commit no branch or tag holds (a pull request's
        `refs/pull/<n>/head`, where GitHub keeps a fork's head); they are fetched only when the commit is still
        missing after the branches and tags were.
        """
        with self._locked(url) as repo:
            known = _describe_if_present(repo, commit) if commit and _FULL_SHA.match(commit) else None
            if known is not None:
                return known
            self._fetch(repo, url)
            if commit:
                if refs and not _has_commit(repo, commit):
                    self._fetch_refs(repo, url, refs)
                return _describe(repo, self._commit_sha(repo, url, commit))
            if not branch:
                raise RevisionNotFound("no branch or commit to fetch was given")
            try:
                sha = repo.git.rev_parse("--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
            except GitCommandError:
                raise RevisionNotFound(f"branch {branch!r} does not exist in {redact(url)}") from None
            return _describe(repo, sha)

    def archive(self, url: str, sha: str, destination: Path) -> None:
        """Write the tree of commit `sha` as a zip file (no `.git` directory)."""
        with self._locked(url) as repo:
            try:
                repo.git.archive("--format=zip", f"--output={destination}", "--end-of-options", sha)
            except GitCommandError as exc:  # which failure it was is looked up only now: a process less per archive
                destination.unlink(missing_ok=True)  # what git began to write
                if not _has_commit(repo, sha):
                    raise RevisionNotFound(f"commit {sha} is not in the mirror of {redact(url)}") from None
                raise GitError(f"git archive of {sha} from {redact(url)} failed: {_stderr(exc)}") from None

    def clone(self, url: str, sha: str, destination: Path, *, branch: str | None, origin: str) -> None:
        """Make a working clone of the mirror at `destination`: the whole history, the tags, the branches as
        `origin/<name>`, commit `sha` checked out on a local `branch` made there (tracking `origin/<branch>` when
        the remote has it) or, without one, detached; `origin` then points at `origin` (a URL without credentials),
        not at the mirror."""
        with self._locked(url) as repo:
            try:  # a local clone hard-links the mirror's objects where it can (copies them elsewhere): no fetch
                repo.git.clone(
                    "--quiet", "--no-checkout", "--end-of-options", str(self.path_for(url)), str(destination)
                )
            except GitCommandError as exc:
                raise GitError(f"cloning the mirror of {redact(url)} failed: {_stderr(exc)}") from None
        with Repo(destination) as clone:
            clone.git.update_environment(**_GIT_ENV)
            try:
                clone.git.remote("set-url", "origin", origin)
                if not branch:
                    clone.git.checkout("--quiet", "--detach", sha)
                    return
                clone.git.checkout("--quiet", "-B", branch, sha)
                if clone.git.branch("--list", "--remotes", f"origin/{branch}"):
                    clone.git.branch(f"--set-upstream-to=origin/{branch}", branch)
            except GitCommandError as exc:
                raise GitError(f"checking {sha} out of {redact(url)} failed: {_stderr(exc)}") from None

    def changed_files(self, url: str, before: str, after: str) -> frozenset[str]:
        """The paths a push from `before` to `after` added, modified or removed (both sides of a rename).

        Without a usable `before` (a new branch, or history rewritten past it) they are the files of `after`'s
        own commit.
        """
        wants_before = bool(_FULL_SHA.match(before)) and before.strip("0") != ""  # all zeros: a new branch
        with self._locked(url) as repo:
            if not _has_commit(repo, after) or (wants_before and not _has_commit(repo, before)):
                self._fetch(repo, url)
            if not _has_commit(repo, after):
                raise RevisionNotFound(f"commit {after} is not in {redact(url)}")
            try:
                if wants_before and _has_commit(repo, before):
                    listed = repo.git.diff("--name-only", "-z", "--no-renames", before, after, "--")
                else:
                    listed = repo.git.diff_tree("--no-commit-id", "--name-only", "-z", "-r", "--root", after)
            except GitCommandError as exc:
                raise GitError(f"git could not list the files changed in {after}: {_stderr(exc)}") from None
        return frozenset(path for path in listed.split("\0") if path)

    def pull_request_files(self, url: str, base: str, head: str, *, refs: tuple[str, ...] = ()) -> frozenset[str]:
        """The paths a pull request changes: from the merge base of `base` and `head` to `head` (three dots).

        `refs` may hold the head when no branch does (see `resolve`). Without a merge base (unrelated histories)
        every file of `head` counts as changed.
        """
        with self._locked(url) as repo:
            if not (_has_commit(repo, base) and _has_commit(repo, head)):
                self._fetch(repo, url)
            if refs and not _has_commit(repo, head):
                self._fetch_refs(repo, url, refs)
            for sha in (base, head):
                if not _has_commit(repo, sha):
                    raise RevisionNotFound(f"commit {sha} is not in {redact(url)}")
            try:
                merge_base = _merge_base(repo, base, head)
                if merge_base is None:
                    listed = repo.git.ls_tree("-r", "--name-only", "-z", "--end-of-options", head)
                else:
                    listed = repo.git.diff("--name-only", "-z", "--no-renames", merge_base, head, "--")
            except GitCommandError as exc:
                raise GitError(f"git could not list the files changed from {base} to {head}: {_stderr(exc)}") from None
        return frozenset(path for path in listed.split("\0") if path)

    @contextmanager
    def _locked(self, url: str) -> Iterator[Repo]:
        path = self.path_for(url)
        self.root.mkdir(parents=True, exist_ok=True)
        with path.with_suffix(".lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                if not (path / "HEAD").exists():
                    Repo.init(path, bare=True).close()
                with Repo(path) as repo:
                    repo.git.update_environment(**_GIT_ENV, **credential_environment(self.credentials))
                    yield repo
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _fetch(self, repo: Repo, url: str) -> None:
        refspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]
        for attempt in range(1, self.retries + 1):
            try:
                # --end-of-options: a URL or revision starting with `-` is never read as an option (--upload-pack=…)
                repo.git.fetch(
                    "--prune",
                    "--no-write-fetch-head",
                    "--end-of-options",
                    url,
                    *refspecs,
                    kill_after_timeout=self.timeout,
                )
                return
            except GitCommandError as exc:
                if attempt == self.retries or _permanent(exc):
                    raise GitError(
                        f"git fetch from {redact(url)} failed: {_stderr(exc)}{self._hint(url, exc)}"
                    ) from None
                self.sleep(min(2.0**attempt, 30.0))

    def _hint(self, url: str, exc: GitCommandError) -> str:
        """What to do when the repository asked for credentials it was not given, or refused the ones it was."""
        text = _stderr(exc).lower()
        if "permission denied (publickey" in text:
            return " (the ssh keys of the user running Conveyor were refused: give it a key the repository accepts)"
        if "host key verification failed" in text:
            return (
                " (the user running Conveyor does not know this ssh host's key, and no one is there to accept it: "
                "add it to that user's ~/.ssh/known_hosts)"
            )
        if not any(s in text for s in ("authentication failed", "could not read username", "could not read password")):
            return ""
        if "@" in url.split("://", 1)[-1].split("/", 1)[0]:
            return " (the credentials written into the repository's URL were refused)"
        site = site_of(url)
        given = next((c for c in self.credentials if c.site == site), None)
        if given is not None:
            return f" (the token from {given.origin} was refused: it may have expired or not be allowed to read it)"
        return (
            f" (no token is configured for {site or redact(url)}: a private repository needs one; see "
            "CONVEYOR_GITHUB_TOKEN, or give the git of the user running Conveyor a credential helper)"
        )

    def _fetch_refs(self, repo: Repo, url: str, refs: tuple[str, ...]) -> None:
        """Fetch these refs into the mirror under their own names; a ref the remote lacks is no error here."""
        for ref in refs:
            try:
                repo.git.fetch(
                    "--no-write-fetch-head", "--end-of-options", url, f"+{ref}:{ref}", kill_after_timeout=self.timeout
                )
            except GitCommandError:
                continue  # the commit may still come by id; if not, RevisionNotFound says which commit is missing

    def _commit_sha(self, repo: Repo, url: str, commit: str) -> str:
        if not _has_commit(repo, commit):
            try:  # a commit no branch points at any more; servers that allow it hand it over by id
                repo.git.fetch(
                    "--no-write-fetch-head", "--end-of-options", url, commit, kill_after_timeout=self.timeout
                )
            except GitCommandError:
                raise RevisionNotFound(f"commit {commit} is not in {redact(url)}") from None
        try:
            return str(repo.git.rev_parse("--verify", "--quiet", f"{commit}^{{commit}}"))
        except GitCommandError:
            raise RevisionNotFound(f"commit {commit} is not in {redact(url)}") from None


def _has_commit(repo: Repo, sha: str) -> bool:
    try:
        repo.git.cat_file("-e", f"{sha}^{{commit}}")
    except GitCommandError:
        return False
    return True


def _merge_base(repo: Repo, first: str, second: str) -> str | None:
    """The best common ancestor of two commits, or None when they share no history."""
    try:
        return str(repo.git.merge_base("--end-of-options", first, second))
    except GitCommandError as exc:
        if exc.status == 1:  # no common ancestor
            return None
        raise


# One `git log` describes a commit: a single process, where reading the commit object through GitPython starts two
# (its persistent `cat-file --batch-check` and `--batch`). Fields are separated by NUL, which no field holds.
_DESCRIBE_FORMAT = "--format=%H%x00%an%x00%ae%x00%aI%x00%cI%x00%B"


def _describe(repo: Repo, sha: str) -> CommitInfo:
    found = _describe_if_present(repo, sha)
    if found is None:
        raise RevisionNotFound(f"commit {sha} is not in the mirror")
    return found


def _describe_if_present(repo: Repo, sha: str) -> CommitInfo | None:
    """The commit's description, or None when the mirror does not hold it (yet)."""
    try:
        return _log_commit(repo, sha)
    except GitCommandError:
        return None


def _log_commit(repo: Repo, sha: str) -> CommitInfo:
    output = repo.git.log(
        "-1",
        "--no-walk",
        "--no-show-signature",
        "--encoding=UTF-8",
        _DESCRIBE_FORMAT,
        "--end-of-options",
        f"{sha}^{{commit}}",
        stdout_as_string=False,
    )
    full_sha, name, email, authored, committed, message = output.decode(errors="replace").split("\0", 5)
    return CommitInfo(
        sha=full_sha,
        message=message.strip(),
        author_name=name,
        author_email=email,
        author_date=authored,
        committer_date=committed,
    )


def _stderr(exc: GitCommandError) -> str:
    text = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    text = text.strip().removeprefix("stderr:").strip().strip("'").strip()
    return redact(text or f"exit status {exc.status}")


def _permanent(exc: GitCommandError) -> bool:
    """Failures a retry cannot cure: the repository does not exist or refuses us."""
    text = _stderr(exc).lower()
    return any(
        s in text
        for s in (
            "does not appear to be a git repository",
            "not found",
            "authentication failed",
            "could not read username",
            "permission denied",
            "repository not found",
            "host key verification failed",
        )
    )


def commit_all(path: Path, message: str, author: str = "Conveyor <conveyor@localhost>", branch: str = "main") -> str:
    """Commit everything in the work tree at `path` (made a repository on `branch` if it is not one); the new sha."""
    name, _, email = author.partition(" <")
    environment = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email.rstrip(">"),
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email.rstrip(">"),
    }
    if not (path / ".git").exists():
        Repo.init(path, initial_branch=branch).close()
    with Repo(path) as repo:
        repo.git.update_environment(**_GIT_ENV, **environment)
        repo.git.add("--all")
        repo.git.commit("--allow-empty", "-m", message)
        return str(repo.head.commit.hexsha)


def head_commit(path: Path) -> str | None:
    """The commit checked out in the work tree at `path` (or a parent), or None outside git or before any commit."""
    try:
        with Repo(path, search_parent_directories=True) as repo:
            return str(repo.head.commit.hexsha)
    except (InvalidGitRepositoryError, NoSuchPathError, ValueError):
        return None
