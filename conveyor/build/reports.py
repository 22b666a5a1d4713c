"""Test and coverage reports: the files a buildspec's `reports` section names, parsed into records. Pure.

Test formats: JUNITXML (also what pytest, Maven Surefire, Jest and Go tools write), CUCUMBERJSON, TESTNGXML.
Coverage formats: COBERTURAXML, JACOCOXML. XML is read with defusedxml: a report is the build's output, not trusted.
Statuses and summary fields are CodeBuild's (SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN; line and branch coverage).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

TEST_FORMATS = ("JUNITXML", "CUCUMBERJSON", "TESTNGXML", "NUNITXML", "NUNIT3XML", "VISUALSTUDIOTRX")
COVERAGE_FORMATS = ("COBERTURAXML", "JACOCOXML", "CLOVERXML", "SIMPLECOV")
PARSED = ("JUNITXML", "CUCUMBERJSON", "TESTNGXML", "COBERTURAXML", "JACOCOXML")


class ReportFileError(ValueError):
    """A report file could not be read in the format its section names."""


@dataclass(frozen=True)
class TestCase:
    name: str
    prefix: str  # the suite or class
    status: str  # SUCCEEDED | FAILED | ERROR | SKIPPED | UNKNOWN
    duration_ms: float = 0.0
    message: str | None = None
    file: str | None = None


@dataclass(frozen=True)
class FileCoverage:
    path: str
    lines_covered: int
    lines_missed: int
    branches_covered: int = 0
    branches_missed: int = 0


@dataclass
class Report:
    group: str
    type: str  # TEST | CODE_COVERAGE
    file_format: str
    test_cases: list[TestCase] = field(default_factory=list)
    coverage: list[FileCoverage] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # files that could not be read

    @property
    def status(self) -> str:
        if self.problems:
            return "INCOMPLETE" if self.test_cases or self.coverage else "FAILED"
        return "SUCCEEDED"

    def summary(self) -> dict[str, Any]:
        if self.type == "TEST":
            counts = Counter(case.status for case in self.test_cases)
            total = len(self.test_cases)
            return {
                "total": total,
                "statusCounts": dict(sorted(counts.items())),
                "durationInMs": round(sum(c.duration_ms for c in self.test_cases), 3),
                "passRate": round(100 * counts.get("SUCCEEDED", 0) / total, 2) if total else None,
            }
        lines = (sum(f.lines_covered for f in self.coverage), sum(f.lines_missed for f in self.coverage))
        branches = (sum(f.branches_covered for f in self.coverage), sum(f.branches_missed for f in self.coverage))
        return {
            "linesCovered": lines[0],
            "linesMissed": lines[1],
            "lineCoveragePercentage": _percent(*lines),
            "branchesCovered": branches[0],
            "branchesMissed": branches[1],
            "branchCoveragePercentage": _percent(*branches),
        }


def report_type(file_format: str) -> str:
    return "CODE_COVERAGE" if file_format in COVERAGE_FORMATS else "TEST"


def parse_into(report: Report, name: str, content: bytes) -> None:
    """Add what one file holds to the report, or note why it could not be read."""
    try:
        if report.type == "TEST":
            report.test_cases += _TEST_PARSERS[report.file_format](content, name)
        else:
            report.coverage += _COVERAGE_PARSERS[report.file_format](content)
    except (ReportFileError, ElementTree.ParseError, DefusedXmlException, ValueError, KeyError) as exc:
        report.problems.append(f"{name}: not a {report.file_format} file ({exc})")


def _percent(covered: int, missed: int) -> float | None:
    return round(100 * covered / (covered + missed), 2) if covered + missed else None


def _xml(content: bytes) -> Element:
    root: Element = ElementTree.fromstring(content)
    return root


def _junit(content: bytes, name: str) -> list[TestCase]:
    root = _xml(content)
    if root.tag not in ("testsuites", "testsuite"):
        raise ReportFileError(f"the root element is <{root.tag}>, not <testsuites> or <testsuite>")
    cases = []
    for suite in [root] if root.tag == "testsuite" else root.iter("testsuite"):
        for case in suite.findall("testcase"):
            cases.append(_junit_case(case, suite.get("name", ""), name))
    return cases


def _junit_case(case: Element, suite: str, file: str) -> TestCase:
    status, message = "SUCCEEDED", None
    for tag, outcome in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
        found = case.find(tag)
        if found is not None:
            status = outcome
            message = (found.get("message") or found.text or "").strip() or None
            break
    seconds = float(case.get("time") or 0)
    return TestCase(
        case.get("name", ""), case.get("classname") or suite, status, seconds * 1000, message, case.get("file") or file
    )


def _testng(content: bytes, name: str) -> list[TestCase]:
    root = _xml(content)
    if root.tag != "testng-results":
        raise ReportFileError(f"the root element is <{root.tag}>, not <testng-results>")
    statuses = {"PASS": "SUCCEEDED", "FAIL": "FAILED", "SKIP": "SKIPPED"}
    cases = []
    for klass in root.iter("class"):
        for method in klass.findall("test-method"):
            if method.get("is-config") == "true":
                continue
            exception = method.find("exception/message")
            cases.append(
                TestCase(
                    method.get("name", ""),
                    klass.get("name", ""),
                    statuses.get(method.get("status", ""), "UNKNOWN"),
                    float(method.get("duration-ms") or 0),
                    (exception.text or "").strip() or None if exception is not None else None,
                    name,
                )
            )
    return cases


def _cucumber(content: bytes, name: str) -> list[TestCase]:
    features = json.loads(content)
    if not isinstance(features, list):
        raise ReportFileError("a Cucumber JSON report is a list of features")
    cases = []
    for feature in features:
        for scenario in feature.get("elements", []):
            steps = [step.get("result", {}) for step in scenario.get("steps", [])]
            statuses = {result.get("status") for result in steps}
            status = (
                "FAILED"
                if "failed" in statuses
                else "SKIPPED"
                if statuses & {"skipped", "pending", "undefined"}
                else "SUCCEEDED"
            )
            message = next((r.get("error_message") for r in steps if r.get("status") == "failed"), None)
            duration = sum(float(r.get("duration") or 0) for r in steps) / 1e6  # nanoseconds
            cases.append(
                TestCase(
                    scenario.get("name", ""),
                    feature.get("name", ""),
                    status,
                    duration,
                    message,
                    feature.get("uri") or name,
                )
            )
    return cases


def _cobertura(content: bytes) -> list[FileCoverage]:
    root = _xml(content)
    if root.tag != "coverage":
        raise ReportFileError(f"the root element is <{root.tag}>, not <coverage>")
    files: dict[str, list[int]] = {}
    for klass in root.iter("class"):
        counts = files.setdefault(klass.get("filename", klass.get("name", "")), [0, 0, 0, 0])
        for line in klass.iter("line"):
            counts[0 if int(line.get("hits", "0")) > 0 else 1] += 1
            condition = line.get("condition-coverage")  # "50% (1/2)"
            if condition and "(" in condition:
                covered, total = condition.split("(")[1].rstrip(")").split("/")
                counts[2] += int(covered)
                counts[3] += int(total) - int(covered)
    return [FileCoverage(path, *counts) for path, counts in sorted(files.items())]


def _jacoco(content: bytes) -> list[FileCoverage]:
    root = _xml(content)
    if root.tag != "report":
        raise ReportFileError(f"the root element is <{root.tag}>, not <report>")
    found = []
    for package in root.iter("package"):
        for source in package.findall("sourcefile"):
            counters = {c.get("type"): c for c in source.findall("counter")}
            line, branch = counters.get("LINE"), counters.get("BRANCH")
            found.append(
                FileCoverage(
                    f"{package.get('name', '')}/{source.get('name', '')}".lstrip("/"),
                    int(line.get("covered", "0")) if line is not None else 0,
                    int(line.get("missed", "0")) if line is not None else 0,
                    int(branch.get("covered", "0")) if branch is not None else 0,
                    int(branch.get("missed", "0")) if branch is not None else 0,
                )
            )
    return found


_TEST_PARSERS = {"JUNITXML": _junit, "TESTNGXML": _testng, "CUCUMBERJSON": _cucumber}
_COVERAGE_PARSERS = {"COBERTURAXML": _cobertura, "JACOCOXML": _jacoco}
