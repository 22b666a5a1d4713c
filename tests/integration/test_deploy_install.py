"""The Install event with real files: copies, the previous deployment's cleanup, file_exists_behavior, permissions."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conveyor.deploy.host_state import HostState
from conveyor.deploy.install import (
    FileExistsBehavior,
    FileMapping,
    InstallError,
    InstallReport,
    Permission,
    install_revision,
)
from tests.integration.test_deploy_host_state import zip_bundle

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs an agent running as root")
GROUP = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
NOBODY = pwd.getpwnam("nobody")


@dataclass
class Host:
    """A directory standing for a host's root, and its agent's state."""

    root: Path
    state: HostState
    work: Path
    lines: list[str]

    def receive(self, deployment_id: str, files: dict[str, str], modes: dict[str, int] | None = None) -> Path:
        deployment = self.state.begin_deployment(GROUP, deployment_id)
        bundle = zip_bundle(self.work, {"appspec.yml": "version: 0.0\nos: linux\n", **files}, f"{deployment_id}.zip")
        archive = self.state.unpack_bundle(deployment, bundle)
        for name, mode in (modes or {}).items():
            (archive / name).chmod(mode)
        return archive

    def install(self, deployment_id: str, files: list[FileMapping], **options: Any) -> InstallReport:
        return install_revision(
            self.state,
            GROUP,
            deployment_id,
            files,
            host_root=self.root,
            log=self.lines.append,
            **options,
        )

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")


@pytest.fixture
def host(tmp_path: Path) -> Host:
    root = tmp_path / "host"
    root.mkdir()
    return Host(root, HostState(tmp_path / "agent"), tmp_path, [])


@pytest.fixture
def open_host() -> Iterator[Host]:
    """A host other users may reach (pytest's own temporary directories are closed to them)."""
    base = Path(tempfile.mkdtemp(prefix="conveyor-install-", dir="/var/tmp"))
    base.chmod(0o755)
    (base / "host").mkdir(mode=0o755)
    yield Host(base / "host", HostState(base / "agent"), base, [])
    shutil.rmtree(base, ignore_errors=True)


SITE = {"site/index.html": "<h1>v1</h1>", "site/css/app.css": "body {}", "config/app.ini": "[app]\n"}
SITE_FILES = [FileMapping("site", "/var/www/shop"), FileMapping("config/app.ini", "/etc/shop")]


def test_directories_are_copied_by_their_contents_and_files_into_their_destination(host: Host) -> None:
    host.receive("d-0001", SITE)

    report = host.install("d-0001", SITE_FILES)

    assert host.path("/var/www/shop/index.html").read_text() == "<h1>v1</h1>"
    assert host.path("/var/www/shop/css/app.css").read_text() == "body {}"
    assert host.path("/etc/shop/app.ini").read_text() == "[app]\n"
    assert not host.path("/var/www/shop/site").exists()
    assert report.created == [
        host.path(p) for p in ("/var", "/var/www", "/var/www/shop", "/var/www/shop/css", "/etc", "/etc/shop")
    ]
    assert report.copied == [
        host.path("/var/www/shop/css/app.css"),
        host.path("/var/www/shop/index.html"),
        host.path("/etc/shop/app.ini"),
    ]
    assert host.state.cleanup_list(GROUP) == [
        host.path(p)
        for p in (
            "/var",
            "/var/www",
            "/var/www/shop",
            "/var/www/shop/css",
            "/var/www/shop/css/app.css",
            "/var/www/shop/index.html",
            "/etc",
            "/etc/shop",
            "/etc/shop/app.ini",
        )
    ]
    last = host.state.last_successful_install(GROUP)
    assert last is not None
    assert last.deployment_id == "d-0001"
    assert host.lines[-1] == "Installed 3 files and 6 directories; kept 0 that existed"


def test_source_slash_copies_the_whole_revision_appspec_included(host: Host) -> None:
    host.receive("d-0001", {"bin/run": "#!/bin/sh\n"}, modes={"bin/run": 0o750})

    host.install("d-0001", [FileMapping("/", "/opt/shop")])

    assert sorted(p.name for p in host.path("/opt/shop").iterdir()) == ["appspec.yml", "bin"]
    assert host.path("/opt/shop/bin/run").stat().st_mode & 0o777 == 0o750


def test_the_next_deployment_first_removes_what_the_previous_one_installed(host: Host) -> None:
    host.receive("d-0001", SITE)
    host.install("d-0001", SITE_FILES)
    host.path("/var/www/shop/css/generated.css").write_text("made by a hook script")
    host.receive("d-0002", {"site/index.html": "<h1>v2</h1>"})

    report = host.install("d-0002", [FileMapping("site", "/var/www/shop")])

    assert host.path("/var/www/shop/index.html").read_text() == "<h1>v2</h1>"
    assert not host.path("/var/www/shop/css/app.css").exists()
    assert not host.path("/etc/shop").exists()
    assert host.path("/var/www/shop/css/generated.css").exists()  # a script's file, and the directory holding it
    assert host.path("/etc/shop/app.ini") in report.removed
    assert host.path("/var/www/shop/css") not in report.removed
    # the directories above the script's file stayed, so this deployment did not create them
    assert host.state.cleanup_list(GROUP) == [host.path("/var/www/shop/index.html")]


def test_disallow_fails_naming_every_file_the_previous_deployment_did_not_install(host: Host) -> None:
    host.path("/var/www/shop").mkdir(parents=True)
    host.path("/var/www/shop/index.html").write_text("someone else's")
    host.path("/var/www/shop/css").mkdir()
    host.path("/var/www/shop/css/app.css").write_text("someone else's too")
    host.receive("d-0001", SITE)

    with pytest.raises(InstallError) as caught:
        host.install("d-0001", SITE_FILES)

    message = caught.value.message
    assert message.startswith("the files cannot be installed:\n")
    for name in ("css/app.css", "index.html"):
        assert (
            f"files[0]: {host.path('/var/www/shop/' + name)} already exists and was not installed by the previous "
            "deployment (file_exists_behavior DISALLOW; OVERWRITE replaces it, RETAIN keeps it)"
        ) in message
    assert host.path("/var/www/shop/index.html").read_text() == "someone else's"
    assert not host.path("/etc/shop").exists()  # nothing was copied
    assert host.state.last_successful_install(GROUP) is None


def test_overwrite_replaces_an_existing_file_which_becomes_this_deployments(host: Host) -> None:
    host.path("/etc/shop").mkdir(parents=True)
    host.path("/etc/shop/app.ini").write_text("hand edited")
    host.receive("d-0001", SITE)

    report = host.install("d-0001", SITE_FILES, file_exists_behavior=FileExistsBehavior.OVERWRITE)

    assert host.path("/etc/shop/app.ini").read_text() == "[app]\n"
    assert host.path("/etc/shop/app.ini") in report.copied
    assert host.path("/etc/shop/app.ini") in host.state.cleanup_list(GROUP)
    host.receive("d-0002", {"other.txt": "x"})
    host.install("d-0002", [])
    assert not host.path("/etc/shop/app.ini").exists()
    assert host.path("/etc/shop").is_dir()  # not created by a deployment


def test_retain_keeps_an_existing_file_which_stays_someone_elses(host: Host) -> None:
    host.path("/etc/shop").mkdir(parents=True)
    host.path("/etc/shop/app.ini").write_text("hand edited")
    host.receive("d-0001", SITE)

    report = host.install("d-0001", SITE_FILES, file_exists_behavior=FileExistsBehavior.RETAIN)

    assert host.path("/etc/shop/app.ini").read_text() == "hand edited"
    assert report.retained == [host.path("/etc/shop/app.ini")]
    assert host.path("/etc/shop/app.ini") not in host.state.cleanup_list(GROUP)
    assert host.path("/var/www/shop/index.html").read_text() == "<h1>v1</h1>"
    assert host.lines[-1] == "Installed 2 files and 4 directories; kept 1 that existed"


def test_every_problem_with_the_files_is_reported_at_once(host: Host) -> None:
    host.path("/srv/taken").mkdir(parents=True)
    host.path("/srv/taken/index.html").mkdir()
    host.path("/srv/plain").write_text("a file")
    host.receive("d-0001", SITE)

    with pytest.raises(InstallError) as caught:
        host.install(
            "d-0001",
            [
                FileMapping("missing", "/srv/app"),
                FileMapping("../../etc", "/srv/app"),
                FileMapping("config/app.ini", "relative/path"),
                FileMapping("config/app.ini", "/srv/app"),
                FileMapping("config/app.ini", "/srv/app"),
                FileMapping("site/index.html", "/srv/taken"),
                FileMapping("site", "/srv/plain"),
            ],
            file_exists_behavior=FileExistsBehavior.OVERWRITE,
        )

    assert caught.value.message.splitlines()[1:] == [
        "  files[0]: source 'missing' does not exist in the revision",
        "  files[1]: source '../../etc' leads outside the revision",
        "  files[2]: destination 'relative/path' is not an absolute path",
        f"  files[4]: {host.path('/srv/app/app.ini')} is installed by files[3] already",
        f"  files[5]: {host.path('/srv/taken/index.html')} is a directory, but the revision has a file there",
        f"  files[6]: {host.path('/srv/plain')} exists and is not a directory, but the revision has a directory there",
    ]
    assert not host.path("/srv/app").exists()


def test_symbolic_links_are_copied_as_links(host: Host) -> None:
    archive = host.receive("d-0001", {"app/current.txt": "v1"})
    (archive / "app" / "latest").symlink_to("current.txt")

    host.install("d-0001", [FileMapping("app", "/opt/app")])

    assert os.readlink(host.path("/opt/app/latest")) == "current.txt"
    assert host.path("/opt/app/latest").read_text() == "v1"


def test_a_rolled_back_revision_gets_its_files_back(host: Host) -> None:
    host.receive("d-0001", {"site/index.html": "<h1>v1</h1>", "site/old-page.html": "old"})
    host.install("d-0001", [FileMapping("site", "/var/www/shop")])
    host.receive("d-0002", {"site/index.html": "<h1>v2</h1>", "site/new-page.html": "new"})
    host.install("d-0002", [FileMapping("site", "/var/www/shop")])
    host.receive("d-0003", {"site/index.html": "<h1>v1</h1>", "site/old-page.html": "old"})  # the rollback

    host.install("d-0003", [FileMapping("site", "/var/www/shop")])

    assert sorted(p.name for p in host.path("/var/www/shop").iterdir()) == ["index.html", "old-page.html"]
    assert host.path("/var/www/shop/index.html").read_text() == "<h1>v1</h1>"


def test_an_install_without_a_revision_on_the_host_is_refused(host: Host) -> None:
    with pytest.raises(InstallError, match="deployment d-0009 has no revision on this host to install from"):
        host.install("d-0009", SITE_FILES)


# Permissions


def mode_of(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def test_permissions_reach_only_what_this_deployment_copied_or_created_below_the_object(host: Host) -> None:
    host.path("/opt/app/logs").mkdir(parents=True, mode=0o755)
    host.path("/opt/app/logs/old.log").write_text("not ours")
    host.path("/opt/app/logs/old.log").chmod(0o600)
    host.receive(
        "d-0001",
        {"app/run.sh": "x", "app/stop.sh": "x", "app/README": "x", "app/lib/util.sh": "x", "app/logs/keep": "x"},
    )
    for name in ("run.sh", "stop.sh", "README", "lib/util.sh", "logs/keep"):
        (host.root.parent / "agent" / GROUP / "d-0001" / "deployment-archive" / "app" / name).chmod(0o640)

    report = host.install(
        "d-0001",
        [FileMapping("app", "/opt/app")],
        permissions=[
            Permission("/opt/app", pattern="*.sh", except_=("stop.sh",), mode=0o750, types=frozenset({"file"})),
            Permission("/opt/app/lib", mode=0o700),
        ],
    )

    assert mode_of(host.path("/opt/app/run.sh")) == 0o750
    assert mode_of(host.path("/opt/app/stop.sh")) == 0o640  # excepted
    assert mode_of(host.path("/opt/app/README")) == 0o640  # not matched by *.sh
    assert mode_of(host.path("/opt/app/lib/util.sh")) == 0o700  # *.sh is for direct children; lib's own entry
    assert mode_of(host.path("/opt/app/logs/old.log")) == 0o600  # not copied by this deployment
    assert mode_of(host.path("/opt/app/logs")) == 0o755  # existed before
    assert mode_of(host.path("/opt/app/lib")) == 0o755  # the object itself is never changed
    assert report.permissions_set == [host.path("/opt/app/run.sh"), host.path("/opt/app/lib/util.sh")]


def test_a_directory_permission_reaches_the_directories_this_deployment_created(host: Host) -> None:
    host.receive("d-0001", {"app/a/b/file": "x"})

    host.install(
        "d-0001",
        [FileMapping("app", "/opt/app")],
        permissions=[Permission("/opt", mode=0o711, types=frozenset({"directory"}))],
    )

    assert [mode_of(host.path(p)) for p in ("/opt/app", "/opt/app/a", "/opt/app/a/b")] == [0o711] * 3
    assert mode_of(host.path("/opt/app/a/b/file")) != 0o711
    assert mode_of(host.path("/opt")) != 0o711  # the object itself


def test_a_permission_on_a_copied_file_applies_to_that_file(host: Host) -> None:
    host.receive("d-0001", SITE)

    report = host.install("d-0001", SITE_FILES, permissions=[Permission("/etc/shop/app.ini", mode=0o600)])

    assert mode_of(host.path("/etc/shop/app.ini")) == 0o600
    assert report.permissions_set == [host.path("/etc/shop/app.ini")]
    assert report.warnings == []


def test_permission_problems_are_reported_together_before_anything_is_copied(host: Host) -> None:
    host.receive("d-0001", SITE)

    with pytest.raises(InstallError) as caught:
        host.install(
            "d-0001",
            SITE_FILES,
            permissions=[
                Permission("/etc/shop/app.ini", pattern="*.ini", mode=0o600),
                Permission("/var/www", owner="no-such-user", group="no-such-group"),
                Permission("/var/www/shop", mode=0o644, acls=("bogus",)),
            ],
        )

    shop = host.path("/var/www/shop")
    assert caught.value.message.splitlines()[1:] == [
        "  permissions[0] (/etc/shop/app.ini): the object is a file, so it takes no pattern and no except",
        "  permissions[1] (/var/www): owner 'no-such-user' is not a user on this host",
        "  permissions[1] (/var/www): group 'no-such-group' is not a group on this host",
        "  permissions[2] (/var/www/shop): acls entry 'bogus' is not [d:]u|g|m|o:[name]:perms",
        f"  permissions[2] (/var/www/shop): {shop / 'css/app.css'} also gets its permissions from /var/www",
        f"  permissions[2] (/var/www/shop): {shop / 'index.html'} also gets its permissions from /var/www",
        f"  permissions[2] (/var/www/shop): {shop / 'css'} also gets its permissions from /var/www",
    ]
    assert not host.path("/var/www").exists()


def test_a_selinux_context_is_skipped_with_a_warning_and_an_object_reaching_nothing_is_told(host: Host) -> None:
    host.receive("d-0001", SITE)

    report = host.install(
        "d-0001",
        SITE_FILES,
        permissions=[
            Permission("/etc/shop/app.ini", mode=0o640, context={"type": "httpd_sys_content_t"}),
            Permission("/nowhere", mode=0o600),
        ],
    )

    assert mode_of(host.path("/etc/shop/app.ini")) == 0o640
    assert report.warnings == [
        "permissions[0] (/etc/shop/app.ini): the SELinux context was not applied (the agent does not manage SELinux)",
        "permissions[1] (/nowhere): reaches nothing this deployment copied or created",
    ]
    assert f"Warning: {report.warnings[1]}" in host.lines


@needs_root
def test_owner_and_group_are_set_on_copied_files_and_setuid_survives(host: Host) -> None:
    host.receive("d-0001", {"bin/tool": "x", "bin/other": "y"})

    host.install(
        "d-0001",
        [FileMapping("bin", "/usr/local/shop")],
        permissions=[Permission("/usr/local/shop", owner="nobody", group="nogroup", mode=0o4755)],
    )

    tool = host.path("/usr/local/shop/tool").stat()
    assert (tool.st_uid, tool.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
    assert tool.st_mode & 0o7777 == 0o4755
    assert host.path("/usr/local/shop").stat().st_uid == os.geteuid()  # the object itself


@needs_root
@pytest.mark.skipif(shutil.which("setfacl") is None, reason="setfacl is not installed (Debian/Ubuntu: acl)")
def test_acls_are_set_with_setfacl_and_keep_a_named_user_out(open_host: Host) -> None:
    open_host.receive("d-0001", {"secret.txt": "classified"})

    open_host.install(
        "d-0001",
        [FileMapping("secret.txt", "/srv/shop")],
        permissions=[Permission("/srv/shop/secret.txt", mode=0o644, acls=("u:nobody:---",))],
    )

    secret = open_host.path("/srv/shop/secret.txt")
    listing = subprocess.run(["getfacl", "-c", "-p", str(secret)], capture_output=True, text=True, check=True)
    assert listing.stdout.split() == ["user::rw-", "user:nobody:---", "group::r--", "mask::r--", "other::r--"]
    as_nobody = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--init-groups", "cat", str(secret)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert as_nobody.returncode != 0
    assert "Permission denied" in as_nobody.stderr
