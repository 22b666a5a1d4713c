"""Keeping the reports a build produced, and reading them back (the API's and the CLI's view)."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from conveyor.build.reports import FileCoverage, Report, TestCase
from conveyor.db.models import Build, utcnow
from conveyor.db.report_models import BuildReport, ReportFileCoverage, ReportTestCase
from conveyor.errors import NotFound
from conveyor.ids import new_id
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

_CASES = cast(Table, ReportTestCase.__table__)
_COVERAGES = cast(Table, ReportFileCoverage.__table__)


def save_reports(session: Session, build_id: str, reports: list[Report]) -> None:
    """One row per report, and its test cases or file coverages in bulk."""
    for report in reports:
        report_id = new_id()
        session.add(
            BuildReport(
                id=report_id,
                build_id=build_id,
                group_name=report.group,
                type=report.type,
                file_format=report.file_format,
                status=report.status,
                summary=report.summary(),
                problems=report.problems,
                created_at=utcnow(),
            )
        )
        session.flush()
        connection = session.connection()
        if report.test_cases:
            connection.execute(insert(_CASES), [_case_row(report_id, case) for case in report.test_cases])
        if report.coverage:
            connection.execute(insert(_COVERAGES), [_coverage_row(report_id, file) for file in report.coverage])


def _case_row(report_id: str, case: TestCase) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "name": case.name,
        "prefix": case.prefix,
        "status": case.status,
        "duration_ms": case.duration_ms,
        "message": case.message,
        "file": case.file,
    }


def _coverage_row(report_id: str, file: FileCoverage) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "path": file.path,
        "lines_covered": file.lines_covered,
        "lines_missed": file.lines_missed,
        "branches_covered": file.branches_covered,
        "branches_missed": file.branches_missed,
    }


def build_reports(rt: Runtime, build_id: str) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        if session.get(Build, build_id) is None:
            raise NotFound(f"no build {build_id}")
        rows = session.scalars(
            select(BuildReport).where(BuildReport.build_id == build_id).order_by(BuildReport.group_name)
        )
        return [_describe(row) for row in rows]


def report_detail(rt: Runtime, report_id: str, status: str | None = None, limit: int = 1000) -> dict[str, Any]:
    """A report with its test cases (optionally of one status) or its file coverages."""
    with rt.db.reader() as session:
        row = session.get(BuildReport, report_id)
        if row is None:
            raise NotFound(f"no report {report_id}")
        described = _describe(row)
        if row.type == "TEST":
            query = select(ReportTestCase).where(ReportTestCase.report_id == report_id).order_by(ReportTestCase.id)
            if status:
                query = query.where(ReportTestCase.status == status.upper())
            described["testCases"] = [
                {
                    "name": c.name,
                    "prefix": c.prefix,
                    "status": c.status,
                    "durationInMs": c.duration_ms,
                    "message": c.message,
                    "testRawDataPath": c.file,
                }
                for c in session.scalars(query.limit(limit))
            ]
        else:
            coverage_query = select(ReportFileCoverage).where(ReportFileCoverage.report_id == report_id)
            described["codeCoverages"] = [
                {
                    "filePath": f.path,
                    "linesCovered": f.lines_covered,
                    "linesMissed": f.lines_missed,
                    "branchesCovered": f.branches_covered,
                    "branchesMissed": f.branches_missed,
                }
                for f in session.scalars(coverage_query.order_by(ReportFileCoverage.path).limit(limit))
            ]
        return described


def _describe(row: BuildReport) -> dict[str, Any]:
    return {
        "id": row.id,
        "buildId": row.build_id,
        "reportGroup": row.group_name,
        "type": row.type,
        "fileFormat": row.file_format,
        "status": row.status,
        "summary": row.summary,
        "problems": row.problems,
        "created": iso(row.created_at),
    }
