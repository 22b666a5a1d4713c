"""The agent's local state on disk: layout, bundles, which revision's scripts run, cleanup lists, restarts, pruning."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from conveyor.archives import write_zip
from conveyor.deploy.host_state import HostState, HostStateError
from conveyor.errors import ConfigurationError

GROUP = "5d0e3c1a-8f42-4b6e-9a71-2c3b4d5e6f70"
OTHER_GROUP = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d"


def zip_bundle(tmp_path: Path, files: dict[str, str], name: str = "bundle.zip") -> Path:
    source = tmp_path / f"{name}-source"
    for relative, text in files.items():
        (source / relative).parent.mkdir(parents=True, exist_ok=True)
        (source / relative).write_text(text)
    bundle = tmp_path / name
    write_zip(bundle, [(p, p.relative_to(source).as_posix()) for p in sorted(source.rglob("*")) if p.is_file()])
    return bundle


def received(state: HostState, tmp_path: Path, deployment_id: str, group: str = GROUP) -> Path:
    """A deployment that downloaded a bundle (its archive holds a file naming it)."""
    deployment = state.begin_deployment(group, deployment_id)
    bundle = zip_bundle(tmp_path, {"appspec.yml": "version: 0.0\n", "rev.txt": deployment_id}, f"{deployment_id}.zip")
    return state.unpack_bundle(deployment, bundle)


def test_a_deployment_lives_under_its_group_with_its_archive_and_script_log(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")

    deployment = state.begin_deployment(GROUP, "d-AAAA00001")

    assert deployment.path == tmp_path / "agent" / GROUP / "d-AAAA00001"
    assert deployment.archive == deployment.path / "deployment-archive"
    assert deployment.script_log == deployment.path / "logs" / "scripts.log"
    assert deployment.script_log.parent.is_dir()
    assert (tmp_path / "agent" / "deployment-instructions" / f"{GROUP}_most_recent_install").read_text() == (
        "d-AAAA00001\n"
    )


def test_a_zip_bundle_is_unpacked_into_the_deployment_archive(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    deployment = state.begin_deployment(GROUP, "d-AAAA00001")
    bundle = zip_bundle(tmp_path, {"appspec.yml": "version: 0.0\n", "app/index.html": "<h1>v1</h1>"})

    archive = state.unpack_bundle(deployment, bundle)

    assert archive == deployment.archive
    assert (archive / "app" / "index.html").read_text() == "<h1>v1</h1>"
    assert (archive / "appspec.yml").is_file()


def test_a_bundle_whose_only_entry_is_a_directory_with_the_appspec_is_unpacked_from_that_directory(
    tmp_path: Path,
) -> None:
    state = HostState(tmp_path / "agent")
    deployment = state.begin_deployment(GROUP, "d-AAAA00001")
    nested = zip_bundle(tmp_path, {"shop-1.2/appspec.yml": "version: 0.0\n", "shop-1.2/bin/run": "x"}, "nested.zip")
    plain_dir = zip_bundle(tmp_path, {"site/index.html": "x"}, "plain.zip")

    archive = state.unpack_bundle(deployment, nested)
    assert sorted(p.name for p in archive.iterdir()) == ["appspec.yml", "bin"]

    archive = state.unpack_bundle(deployment, plain_dir)  # no appspec inside: left as it is
    assert [p.name for p in archive.iterdir()] == ["site"]


@pytest.mark.parametrize(("bundle_type", "mode"), [("tar", "w"), ("tgz", "w:gz")])
def test_tar_and_tgz_bundles_are_unpacked(tmp_path: Path, bundle_type: str, mode: str) -> None:
    state = HostState(tmp_path / "agent")
    deployment = state.begin_deployment(GROUP, "d-AAAA00001")
    bundle = tmp_path / f"bundle.{bundle_type}"
    with tarfile.open(bundle, mode) as archive:
        data = b"#!/bin/bash\necho started\n"
        info = tarfile.TarInfo("scripts/start.sh")
        info.size, info.mode = len(data), 0o755
        archive.addfile(info, io.BytesIO(data))

    unpacked = state.unpack_bundle(deployment, bundle, bundle_type)

    assert (unpacked / "scripts" / "start.sh").read_bytes() == data
    assert (unpacked / "scripts" / "start.sh").stat().st_mode & 0o777 == 0o755


def test_a_bundle_that_would_write_outside_its_archive_is_refused(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    deployment = state.begin_deployment(GROUP, "d-AAAA00001")
    bundle = tmp_path / "evil.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("../../escaped.txt", "x")

    with pytest.raises(HostStateError, match="the revision of deployment d-AAAA00001: refusing archive entry"):
        state.unpack_bundle(deployment, bundle)
    with pytest.raises(HostStateError, match="bundle type 'rar' is not supported: use one of zip, tar, tgz"):
        state.unpack_bundle(deployment, bundle, "rar")
    assert not (tmp_path / "escaped.txt").exists()


def test_application_stop_runs_from_the_last_successful_install_until_the_deployment_has_its_own(
    tmp_path: Path,
) -> None:
    state = HostState(tmp_path / "agent")
    state.begin_deployment(GROUP, "d-FIRST0001")

    assert state.scripts_archive(GROUP, "d-FIRST0001", last_successful=True) is None  # a host's first deployment

    first = received(state, tmp_path, "d-FIRST0001")
    state.record_successful_install(GROUP, "d-FIRST0001")
    state.begin_deployment(GROUP, "d-SECOND001")

    assert state.scripts_archive(GROUP, "d-SECOND001", last_successful=True) == first
    assert state.scripts_archive(GROUP, "d-SECOND001", last_successful=False) is None
    second = received(state, tmp_path, "d-SECOND001")
    assert state.scripts_archive(GROUP, "d-SECOND001", last_successful=True) == second
    assert state.scripts_archive(GROUP, "d-SECOND001", last_successful=False) == second


def test_the_state_survives_a_restart(tmp_path: Path) -> None:
    before = HostState(tmp_path / "agent")
    received(before, tmp_path, "d-FIRST0001")
    before.record_successful_install(GROUP, "d-FIRST0001")
    received(before, tmp_path, "d-SECOND001")
    with before.cleanup_writer(GROUP) as cleanup:
        cleanup.add(Path("/srv/shop/index.html"))
        cleanup.add(Path("/srv/shop/odd\nname"))

    after = HostState(tmp_path / "agent")

    last = after.last_successful_install(GROUP)
    recent = after.most_recent_install(GROUP)
    assert last is not None
    assert recent is not None
    assert (last.deployment_id, recent.deployment_id) == ("d-FIRST0001", "d-SECOND001")
    assert after.cleanup_list(GROUP) == [Path("/srv/shop/index.html"), Path("/srv/shop/odd\nname")]
    assert after.deployments(GROUP) == ["d-FIRST0001", "d-SECOND001"]
    assert after.last_successful_install(OTHER_GROUP) is None
    assert after.cleanup_list(OTHER_GROUP) == []


def test_a_cleanup_list_line_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    with state.cleanup_writer(GROUP) as cleanup:
        cleanup.add(Path("/srv/shop/a"))
    with (tmp_path / "agent" / "deployment-instructions" / f"{GROUP}-cleanup").open("a") as file:
        file.write('"/srv/shop/b')

    assert state.cleanup_list(GROUP) == [Path("/srv/shop/a")]
    state.clear_cleanup_list(GROUP)
    assert state.cleanup_list(GROUP) == []


def test_a_pointer_to_a_deployment_whose_archive_is_gone_points_nowhere(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    archive = received(state, tmp_path, "d-FIRST0001")
    state.record_successful_install(GROUP, "d-FIRST0001")
    for path in sorted(archive.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    archive.rmdir()

    assert state.last_successful_install(GROUP) is None


def test_old_deployments_are_pruned_to_max_revisions_but_never_the_last_successful_one(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent")
    received(state, tmp_path, "d-0001")
    state.record_successful_install(GROUP, "d-0001")
    for number in range(2, 8):
        received(state, tmp_path, f"d-{number:04}")
    received(state, tmp_path, "d-other", group=OTHER_GROUP)

    assert state.deployments(GROUP) == ["d-0001", "d-0004", "d-0005", "d-0006", "d-0007"]
    assert sorted(p.name for p in (tmp_path / "agent" / GROUP).iterdir()) == [
        "d-0001",
        "d-0004",
        "d-0005",
        "d-0006",
        "d-0007",
    ]
    assert state.deployments(OTHER_GROUP) == ["d-other"]


def test_max_revisions_is_configurable_and_at_least_one(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent", max_revisions=2)
    for number in range(1, 5):
        received(state, tmp_path, f"d-{number:04}")

    assert state.deployments(GROUP) == ["d-0003", "d-0004"]
    assert HostState(tmp_path / "agent").prune(GROUP, keep="d-0005") == []
    with pytest.raises(ConfigurationError, match="max_revisions must be at least 1"):
        HostState(tmp_path / "agent", max_revisions=0)


def test_directories_the_history_does_not_know_are_pruned_first(tmp_path: Path) -> None:
    state = HostState(tmp_path / "agent", max_revisions=2)
    (tmp_path / "agent" / GROUP / "d-left-over").mkdir(parents=True)
    received(state, tmp_path, "d-0001")

    received(state, tmp_path, "d-0002")

    assert state.deployments(GROUP) == ["d-0001", "d-0002"]


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "deployment-instructions", " padded"])
def test_ids_that_cannot_name_a_directory_are_refused(tmp_path: Path, bad: str) -> None:
    state = HostState(tmp_path / "agent")

    with pytest.raises(HostStateError, match="cannot name a directory of the agent's state"):
        state.deployment(GROUP, bad)
    with pytest.raises(HostStateError, match="deployment group id"):
        state.cleanup_list(bad)
