"""Zip files for artifacts: written without re-compressing what is compressed already, extracted safely.

Deflating 100 MiB of incompressible data costs ten times what storing it does, so files whose contents are already
compressed (archives, images, jars, wheels…) are stored as they are. Extraction refuses entries that would land
outside the destination and restores symbolic links that point inside it.
"""

from __future__ import annotations

import os
import stat
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from conveyor.errors import ConveyorError

COMPRESSED_SUFFIXES = frozenset(
    (
        ".zip .jar .war .ear .whl .egg .gz .tgz .bz2 .xz .zst .7z .rar .apk .aab .nupkg .br .lz4 .pack "
        ".png .jpg .jpeg .gif .webp .mp3 .mp4 .mov .avi .woff .woff2 .pdf .docx .xlsx .pptx"
    ).split()
)


class ArchiveError(ConveyorError):
    """An archive is unreadable or holds an entry that may not be extracted."""


def write_zip(destination: Path | BinaryIO, entries: Iterable[tuple[Path, str]], *, keep_symlinks: bool = False) -> int:
    """Zip `(file on disk, name in archive)` pairs into a file or an open binary file; how many were written."""
    count = 0
    with zipfile.ZipFile(destination, "w", allowZip64=True) as archive:
        for source, name in entries:
            if keep_symlinks and source.is_symlink():
                info = zipfile.ZipInfo(name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                archive.writestr(info, os.readlink(source))
            else:
                method = zipfile.ZIP_STORED if source.suffix.lower() in COMPRESSED_SUFFIXES else zipfile.ZIP_DEFLATED
                archive.write(source, name, compress_type=method)
            count += 1
    return count


def extract_zip(archive_path: Path, destination: Path, *, name: str | None = None) -> None:
    """Extract into `destination`, refusing absolute or climbing paths and links that leave it.

    `name` is what errors call the archive (its file's name by default).
    """
    root = destination.resolve()
    links: list[Path] = []
    try:
        with zipfile.ZipFile(archive_path) as archive:
            for info in archive.infolist():
                _extract_entry(archive, info, root, links)
    except zipfile.BadZipFile as exc:
        raise ArchiveError(f"{name or archive_path.name} is not a readable zip file: {exc}") from None
    for link in links:  # a later link can change where an earlier one leads (`x -> a/../b`, then `a -> .`)
        if not _inside(link, root):
            raise ArchiveError(f"refusing symbolic link {link.relative_to(root)}: it points outside the source")


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, with every symbolic link followed, is `root` or below it (a link loop stays where it is)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


def _extract_entry(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path, links: list[Path]) -> None:
    name = PurePosixPath(info.filename)
    if name.is_absolute() or ".." in name.parts:
        raise ArchiveError(f"refusing archive entry {info.filename!r}: it would land outside the destination")
    target = root.joinpath(*name.parts)
    mode = info.external_attr >> 16
    is_link = stat.S_ISLNK(mode) and not info.is_dir()
    if not _inside(target.parent if is_link else target, root):  # an earlier link would carry the write outside
        raise ArchiveError(f"refusing archive entry {info.filename!r}: a symbolic link leads outside the destination")
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_link:
        link = archive.read(info).decode()
        if os.path.isabs(link) or not _inside(target.parent / link, root):
            raise ArchiveError(f"refusing symbolic link {info.filename!r} -> {link!r}: it points outside the source")
        target.unlink(missing_ok=True)
        target.symlink_to(link)
        links.append(target)
        return
    with archive.open(info) as src, target.open("wb") as dst:
        while chunk := src.read(1024 * 1024):
            dst.write(chunk)
    if mode & 0o777:
        target.chmod(mode & 0o777)
