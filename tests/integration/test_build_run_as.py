"""`run-as` with real users, setpriv and bash: the build's and a phase's, state carried across the switch."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from conveyor.build.spec import parse_buildspec
from conveyor.errors import SpecError
from tests.unit.test_build_runner import phase, run_build, spec

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs a worker running as root")
NOBODY = pwd.getpwnam("nobody")


def test_run_as_is_parsed_for_the_build_and_for_a_phase() -> None:
    parsed = parse_buildspec("version: 0.2\nrun-as: builder\nphases:\n  build:\n    run-as: root\n    commands: [id]\n")

    assert parsed.run_as == "builder"
    build = parsed.phase("build")
    assert build is not None
    assert build.run_as == "root"
    assert parsed.not_yet_run == ()


def test_a_run_as_that_names_no_user_is_a_problem() -> None:
    with pytest.raises(SpecError) as caught:
        parse_buildspec("version: 0.2\nrun-as: [a, b]\nphases:\n  build:\n    run-as: two words\n")

    assert "run-as: needs the name of a Linux user" in str(caught.value)
    assert "phases.build.run-as: needs the name of a Linux user" in str(caught.value)


@needs_root
def test_the_build_runs_as_its_run_as_user_and_a_phase_as_its_own(open_dir: Path) -> None:
    buildspec = (
        "version: 0.2\nrun-as: nobody\nphases:\n"
        + phase("install", 'echo "install as $(id -un)"', "export CARRIED=yes", "mkdir -p out && touch out/made")
        + phase("build", 'echo "build as $(id -un) carried=$CARRIED"', "touch out/by-root", extra="    run-as: root\n")
        + phase("post_build", 'echo "post_build as $(id -un)"', "touch out/again")
    )

    build = run_build(open_dir, {"buildspec.yml": buildspec})

    assert build.result.status.value == "SUCCEEDED", build.log
    assert build.output[:3] == ["install as nobody", "build as root carried=yes", "post_build as nobody"]
    out = build.workspace / "src" / "out"
    assert (out / "made").stat().st_uid == NOBODY.pw_uid
    assert (out / "again").stat().st_uid == NOBODY.pw_uid
    assert "Running as user nobody" in build.log


@needs_root
def test_the_run_as_user_cannot_write_what_it_does_not_own(open_dir: Path) -> None:
    outside = open_dir / "root-only"
    outside.mkdir(mode=0o755)
    build = run_build(
        open_dir,
        {"buildspec.yml": spec(phase("build", f"touch {outside}/x"), head="run-as: nobody\n")},
    )

    assert build.result.status.value == "FAILED"
    assert "Permission denied" in build.log
    assert not (outside / "x").exists()


@needs_root
def test_a_workspace_the_user_cannot_reach_fails_the_build_with_the_reason(tmp_path: Path) -> None:
    # pytest's own root (/tmp/pytest-of-<user>) is closed to other users: the first directory on the way that is
    closed = next(p for p in reversed(tmp_path.parents) if not p.stat().st_mode & 0o001)
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "echo never"), head="run-as: nobody\n")})

    assert build.result.status.value == "FAILED"
    assert ("DOWNLOAD_SOURCE", "FAILED") in build.recorder.phases
    assert f"run-as user 'nobody' cannot reach the build's workspace: {closed} is closed to it" in build.log


def test_an_unknown_user_fails_the_build_before_any_command(tmp_path: Path) -> None:
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "echo never"), head="run-as: no-such-user\n")})

    assert build.result.status.value == "FAILED"
    assert ("DOWNLOAD_SOURCE", "FAILED") in build.recorder.phases
    assert "run-as user 'no-such-user' does not exist on this worker" in build.log
    assert "never" not in build.output


def test_run_as_oneself_needs_no_root(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.geteuid()).pw_name
    build = run_build(tmp_path, {"buildspec.yml": spec(phase("build", "id -un"), head=f"run-as: {me}\n")})

    assert build.result.status.value == "SUCCEEDED", build.log
    assert me in build.output
