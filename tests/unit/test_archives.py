"""Zip files for artifacts: compressed files stored as they are, extraction that never leaves its destination."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from conveyor.archives import ArchiveError, extract_zip, write_zip


def files_in(root: Path, names: dict[str, bytes]) -> list[tuple[Path, str]]:
    entries = []
    for name, content in names.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        entries.append((path, name))
    return entries


def add_link(archive: zipfile.ZipFile, name: str, target: str) -> None:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive.writestr(info, target)


def make_zip(path: Path, files: dict[str, bytes] | None = None, links: dict[str, str] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, target in (links or {}).items():
            add_link(archive, name, target)
        for name, content in (files or {}).items():
            archive.writestr(name, content)
    return path


# Writing.


def test_compressed_files_are_stored_and_others_deflated(tmp_path: Path) -> None:
    names = {
        "dist/app.jar": b"j" * 1000,
        "dist/app.tar.gz": b"g" * 1000,
        "img/logo.PNG": b"p" * 1000,
        "src/main.py": b"print('hello')\n" * 100,
        "README": b"r" * 1000,
    }
    destination = tmp_path / "out.zip"

    count = write_zip(destination, files_in(tmp_path / "src", names))

    assert count == 5
    with zipfile.ZipFile(destination) as archive:
        methods = {info.filename: info.compress_type for info in archive.infolist()}
        assert archive.read("src/main.py") == names["src/main.py"]
    assert methods == {
        "dist/app.jar": zipfile.ZIP_STORED,
        "dist/app.tar.gz": zipfile.ZIP_STORED,
        "img/logo.PNG": zipfile.ZIP_STORED,
        "src/main.py": zipfile.ZIP_DEFLATED,
        "README": zipfile.ZIP_DEFLATED,
    }


def test_entries_take_the_names_given(tmp_path: Path) -> None:
    [(path, _)] = files_in(tmp_path / "deep" / "inside", {"file.txt": b"x"})
    destination = tmp_path / "out.zip"

    write_zip(destination, [(path, "renamed/there.txt")])

    with zipfile.ZipFile(destination) as archive:
        assert archive.namelist() == ["renamed/there.txt"]


def test_a_symlink_is_kept_as_a_link_when_asked(tmp_path: Path) -> None:
    source = tmp_path / "src"
    entries = files_in(source, {"real.txt": b"real contents"})
    (source / "link.txt").symlink_to("real.txt")
    destination = tmp_path / "out.zip"

    write_zip(destination, [*entries, (source / "link.txt", "link.txt")], keep_symlinks=True)

    with zipfile.ZipFile(destination) as archive:
        info = archive.getinfo("link.txt")
        assert stat.S_ISLNK(info.external_attr >> 16)
        assert archive.read(info) == b"real.txt"


def test_a_symlink_is_followed_by_default(tmp_path: Path) -> None:
    source = tmp_path / "src"
    entries = files_in(source, {"real.txt": b"real contents"})
    (source / "link.txt").symlink_to("real.txt")
    destination = tmp_path / "out.zip"

    write_zip(destination, [*entries, (source / "link.txt", "link.txt")])

    with zipfile.ZipFile(destination) as archive:
        assert not stat.S_ISLNK(archive.getinfo("link.txt").external_attr >> 16)
        assert archive.read("link.txt") == b"real contents"


# Extracting.


def test_extract_restores_files_modes_and_inside_symlinks(tmp_path: Path) -> None:
    source = tmp_path / "src"
    entries = files_in(source, {"bin/run.sh": b"#!/bin/sh\necho hi\n", "data/a.txt": b"a", "private.key": b"k"})
    (source / "bin" / "run.sh").chmod(0o755)
    (source / "private.key").chmod(0o600)
    (source / "current").symlink_to("data")
    (source / "data" / "link.txt").symlink_to("../private.key")
    entries += [(source / "current", "current"), (source / "data" / "link.txt", "data/link.txt")]
    archive = tmp_path / "out.zip"
    write_zip(archive, entries, keep_symlinks=True)
    destination = tmp_path / "dest"

    extract_zip(archive, destination)

    assert (destination / "data" / "a.txt").read_bytes() == b"a"
    assert stat.S_IMODE((destination / "bin" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE((destination / "private.key").stat().st_mode) == 0o600
    assert (destination / "current").is_symlink()
    assert (destination / "current").readlink() == Path("data")
    assert (destination / "current" / "a.txt").read_bytes() == b"a"
    assert (destination / "data" / "link.txt").readlink() == Path("../private.key")
    assert (destination / "data" / "link.txt").read_bytes() == b"k"


def test_extract_creates_directory_entries(tmp_path: Path) -> None:
    archive = tmp_path / "dirs.zip"
    with zipfile.ZipFile(archive, "w") as writing:
        writing.writestr("empty/", b"")
        writing.writestr("full/file.txt", b"x")

    extract_zip(archive, tmp_path / "dest")

    assert (tmp_path / "dest" / "empty").is_dir()
    assert (tmp_path / "dest" / "full" / "file.txt").read_bytes() == b"x"


@pytest.mark.parametrize("name", ["../escape.txt", "a/../../escape.txt", "/tmp/escape.txt", "a/../b/../../escape.txt"])
def test_entries_that_climb_out_or_are_absolute_are_refused(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as writing:
        writing.writestr(zipfile.ZipInfo(name), b"owned")
    destination = tmp_path / "a" / "b" / "dest"

    with pytest.raises(ArchiveError, match="outside the destination"):
        extract_zip(archive, destination)

    assert not list(tmp_path.rglob("escape.txt"))


@pytest.mark.parametrize("target", ["../../outside", "../../../etc", "/etc/passwd", "/tmp", "a/../../../outside"])
def test_links_pointing_outside_are_refused(tmp_path: Path, target: str) -> None:
    archive = make_zip(tmp_path / "evil.zip", links={"sub/link": target})
    destination = tmp_path / "dest"

    with pytest.raises(ArchiveError, match="points outside"):
        extract_zip(archive, destination)

    assert not (destination / "sub" / "link").is_symlink()


@pytest.mark.parametrize("target", [".", "..", "../other/file", "deeper/still"])
def test_links_pointing_inside_are_restored(tmp_path: Path, target: str) -> None:
    archive = make_zip(tmp_path / "fine.zip", links={"sub/link": target})

    extract_zip(archive, tmp_path / "dest")

    assert (tmp_path / "dest" / "sub" / "link").readlink() == Path(target)


def test_a_link_made_to_point_outside_by_a_later_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    # `x -> a/../outside` is inside while `a` does not exist; `a -> .` then makes it lead to tmp_path/outside
    archive = make_zip(tmp_path / "evil.zip", links={"x": "a/../outside", "a": "."})

    with pytest.raises(ArchiveError, match="points outside"):
        extract_zip(archive, tmp_path / "dest")


def test_a_write_through_a_link_that_leads_outside_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    archive = make_zip(tmp_path / "evil.zip", files={"x/owned.txt": b"owned"}, links={"x": "a/../outside", "a": "."})

    with pytest.raises(ArchiveError, match="outside the destination"):
        extract_zip(archive, tmp_path / "dest")

    assert list(outside.iterdir()) == []


def test_a_file_is_not_written_through_a_link_to_a_file_outside(tmp_path: Path) -> None:
    victim = tmp_path / "outside.txt"
    victim.write_text("precious")
    # `./x` is entry `x` again under another name (a repeated name makes zipfile warn)
    archive = make_zip(tmp_path / "evil.zip", files={"./x": b"owned"}, links={"x": "a/../outside.txt", "a": "."})

    with pytest.raises(ArchiveError):
        extract_zip(archive, tmp_path / "dest")

    assert victim.read_text() == "precious"


def test_a_link_to_itself_does_not_break_extraction(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "loop.zip", files={"ok.txt": b"ok"}, links={"loop": "loop"})

    extract_zip(archive, tmp_path / "dest")

    assert (tmp_path / "dest" / "loop").is_symlink()
    assert (tmp_path / "dest" / "ok.txt").read_bytes() == b"ok"


def test_a_file_that_is_not_a_zip_is_an_archive_error(tmp_path: Path) -> None:
    not_zip = tmp_path / "source.zip"
    not_zip.write_bytes(b"this is plain text, not a zip archive\n" * 10)

    with pytest.raises(ArchiveError, match=r"source\.zip is not a readable zip file"):
        extract_zip(not_zip, tmp_path / "dest")
    with pytest.raises(ArchiveError, match=r"^input-0\.zip is not a readable zip file"):
        extract_zip(not_zip, tmp_path / "dest", name="input-0.zip")


def test_a_corrupt_member_is_an_archive_error(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "corrupt.zip", files={"a.txt": b"hello world" * 100})
    data = bytearray(archive.read_bytes())
    data[data.index(b"a.txt") + len(b"a.txt") + 5] ^= 0xFF  # flip a byte in the stored contents
    archive.write_bytes(bytes(data))

    with pytest.raises(ArchiveError):
        extract_zip(archive, tmp_path / "dest")


def test_round_trip_of_a_tree(tmp_path: Path) -> None:
    names = {f"dir{n}/file{n}.txt": f"contents {n}\n".encode() for n in range(20)}
    archive = tmp_path / "tree.zip"
    write_zip(archive, files_in(tmp_path / "src", names))

    destination = tmp_path / "dest"

    extract_zip(archive, destination)

    extracted = {p.relative_to(destination).as_posix(): p.read_bytes() for p in destination.rglob("*.txt")}
    assert extracted == names
