"""SQL tables of build reports: each test or coverage report of a build, with its test cases or covered files. Part
of the one metadata (`conveyor.db.models` imports this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from conveyor.db.models import Base, utcnow
from conveyor.ids import new_id


class BuildReport(Base):
    """A test or coverage report of one build (a report of a report group, in CodeBuild's words)."""

    __tablename__ = "build_reports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    build_id: Mapped[str] = mapped_column(ForeignKey("builds.id", ondelete="CASCADE"), index=True)
    group_name: Mapped[str] = mapped_column(String(500))
    type: Mapped[str] = mapped_column(String(16))
    file_format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    problems: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportTestCase(Base):
    __tablename__ = "report_test_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("build_reports.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    duration_ms: Mapped[float]
    message: Mapped[str | None] = mapped_column(Text)
    file: Mapped[str | None] = mapped_column(Text)


class ReportFileCoverage(Base):
    __tablename__ = "report_file_coverages"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("build_reports.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(Text)
    lines_covered: Mapped[int]
    lines_missed: Mapped[int]
    branches_covered: Mapped[int]
    branches_missed: Mapped[int]
