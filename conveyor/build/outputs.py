"""Storing what a build leaves behind: its test and coverage reports, and its artifacts in the blob store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from conveyor.archives import write_zip
from conveyor.blobs import BlobStore
from conveyor.build.artifacts import ArtifactError, select_files
from conveyor.build.log import BuildLog
from conveyor.build.reports import PARSED, Report, parse_into, report_type
from conveyor.build.request import BuildRequest
from conveyor.build.spec_outputs import ArtifactsSpec, ReportSpec
from conveyor.build.status import BuildStatus
from conveyor.errors import ConveyorError


class OutputError(ConveyorError):
    """An artifact could not be selected (the build's fault: FAILED) or stored (Conveyor's: FAULT)."""

    def __init__(self, status: BuildStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BuildOutputs:
    def __init__(
        self,
        request: BuildRequest,
        source_dir: Path,
        blobs: BlobStore,
        log: BuildLog,
        evaluate: Callable[[str], str | None],
    ) -> None:
        self.request = request
        self.source_dir = source_dir
        self.blobs = blobs
        self.log = log
        self.evaluate = evaluate

    def read_report(self, section: ReportSpec) -> Report:
        """A report group's files, parsed; what cannot be read is noted on the report, never raised."""
        group = section.name if section.name.startswith("arn:") else f"{self.request.project_name}-{section.name}"
        report = Report(group, report_type(section.file_format), section.file_format)
        if section.file_format not in PARSED:
            report.problems.append(f"{section.file_format} reports are not read by Conveyor yet")
            return report
        try:
            files = select_files(
                self.source_dir, ArtifactsSpec(section.files, section.base_directory, section.discard_paths)
            )
        except ArtifactError as exc:
            report.problems.append(str(exc))
            files = []
        for path, name in files:
            parse_into(report, name, path.read_bytes())
        self.log.container(f"Report {group} ({report.type}, {report.file_format}): {report.status} {report.summary()}")
        return report

    def store_artifacts(self, primary: ArtifactsSpec) -> dict[str, Any]:
        """The primary artifact's record, with each secondary artifact's under `secondary`."""
        stored = {identifier: self._store(identifier, section) for identifier, section in primary.secondary}
        return {**self._store("", primary), "secondary": stored}

    def _store(self, identifier: str, section: ArtifactsSpec) -> dict[str, Any]:
        try:
            files = select_files(self.source_dir, section)
        except ArtifactError as exc:
            where = f"secondary artifact {identifier}: " if identifier else ""
            raise OutputError(BuildStatus.FAILED, "CLIENT_ERROR", f"{where}{exc}") from None
        name = self._name(section, identifier or "artifact")
        if section.s3_prefix:  # namespace BUILD_ID: <s3-prefix>/<build id>/<name>.zip
            key = f"{safe_key(section.s3_prefix)}/{self.request.build_id}/{name}.zip"
        else:
            key = f"{self.request.artifact_key_prefix}{name}.zip"
        try:
            with self.blobs.writing(key, self.request.workspace / "tmp") as archive:
                count, size = self._zip(archive, files, section.enable_symlinks)
        except OSError as exc:
            raise OutputError(BuildStatus.FAULT, "UPLOAD_ERROR", f"could not store the artifact: {exc}") from None
        self.log.container(f"Uploaded {count} file{'' if count == 1 else 's'} as {name}.zip")
        return {"key": key, "name": name, "files": count, "size": size}

    @staticmethod
    def _zip(archive: BinaryIO, files: list[tuple[Path, str]], keep_symlinks: bool) -> tuple[int, int]:
        """Zip the files into the blob being written: how many, and the archive's size."""
        try:
            count = write_zip(archive, files, keep_symlinks=keep_symlinks)
        except OSError as exc:
            raise OutputError(BuildStatus.FAULT, "CLIENT_ERROR", f"could not read the artifact: {exc}") from None
        return count, archive.tell()

    def _name(self, section: ArtifactsSpec, default: str) -> str:
        """`name`, as the build's shell expands it; the default when absent or unusable."""
        if not section.name:
            return default
        return safe_key(self.evaluate(section.name) or section.name) or default


def safe_key(text: str) -> str:
    """A blob key part from user text: no empty, `.` or `..` segments, no leading or trailing slash."""
    return "/".join(part for part in text.replace("\\", "/").split("/") if part not in ("", ".", ".."))
