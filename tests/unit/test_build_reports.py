"""Test and coverage report files, parsed as CodeBuild reads them."""

from __future__ import annotations

import json
from pathlib import Path

from conveyor.build.reports import Report, parse_into
from conveyor.build.status import BuildStatus
from tests.unit.test_build_runner import phase, run_build, spec

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="pytest" tests="4">
    <testcase classname="tests.test_api" name="test_ok" time="0.012"/>
    <testcase classname="tests.test_api" name="test_bad" time="0.5">
      <failure message="assert 1 == 2">Traceback...</failure>
    </testcase>
    <testcase classname="tests.test_api" name="test_boom" time="0.1"><error message="KeyError: x"/></testcase>
    <testcase classname="tests.test_api" name="test_later" time="0"><skipped message="not yet"/></testcase>
  </testsuite>
</testsuites>
"""
TESTNG = b"""<testng-results><suite name="s"><test name="t"><class name="com.acme.ApiTest">
  <test-method status="PASS" name="ok" duration-ms="15"/>
  <test-method status="FAIL" name="bad" duration-ms="7">
    <exception class="AssertionError"><message>boom</message></exception>
  </test-method>
  <test-method status="PASS" name="setUp" is-config="true" duration-ms="1"/>
</class></test></suite></testng-results>"""
CUCUMBER = json.dumps(
    [
        {
            "name": "Checkout",
            "uri": "features/checkout.feature",
            "elements": [
                {"name": "pays", "steps": [{"result": {"status": "passed", "duration": 2_000_000}}]},
                {
                    "name": "refunds",
                    "steps": [{"result": {"status": "failed", "duration": 1_000_000, "error_message": "no"}}],
                },
            ],
        }
    ]
).encode()
COBERTURA = b"""<coverage><packages><package name="app"><classes>
  <class name="api" filename="app/api.py"><lines>
    <line number="1" hits="1"/><line number="2" hits="0"/>
    <line number="3" hits="4" branch="true" condition-coverage="50% (1/2)"/>
  </lines></class>
</classes></package></packages></coverage>"""
JACOCO = b"""<report name="r"><package name="com/acme"><sourcefile name="Api.java">
  <counter type="LINE" missed="2" covered="8"/><counter type="BRANCH" missed="1" covered="3"/>
</sourcefile></package></report>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<testsuite><testcase name="&lol2;"/></testsuite>"""


def parsed(file_format: str, content: bytes, kind: str = "TEST") -> Report:
    report = Report("demo-unit", kind, file_format)
    parse_into(report, "report.file", content)
    return report


def test_junit_cases_statuses_durations_and_messages() -> None:
    report = parsed("JUNITXML", JUNIT)
    assert [(c.name, c.status, c.message) for c in report.test_cases] == [
        ("test_ok", "SUCCEEDED", None),
        ("test_bad", "FAILED", "assert 1 == 2"),
        ("test_boom", "ERROR", "KeyError: x"),
        ("test_later", "SKIPPED", "not yet"),
    ]
    assert report.summary() == {
        "total": 4,
        "statusCounts": {"ERROR": 1, "FAILED": 1, "SKIPPED": 1, "SUCCEEDED": 1},
        "durationInMs": 612.0,
        "passRate": 25.0,
    }
    assert report.status == "SUCCEEDED"


def test_testng_and_cucumber() -> None:
    testng = parsed("TESTNGXML", TESTNG)
    assert [(c.prefix, c.name, c.status, c.message) for c in testng.test_cases] == [
        ("com.acme.ApiTest", "ok", "SUCCEEDED", None),
        ("com.acme.ApiTest", "bad", "FAILED", "boom"),
    ]
    cucumber = parsed("CUCUMBERJSON", CUCUMBER)
    assert [(c.name, c.status, c.duration_ms) for c in cucumber.test_cases] == [
        ("pays", "SUCCEEDED", 2.0),
        ("refunds", "FAILED", 1.0),
    ]


def test_cobertura_and_jacoco_coverage() -> None:
    cobertura = parsed("COBERTURAXML", COBERTURA, "CODE_COVERAGE")
    assert cobertura.summary() == {
        "linesCovered": 2,
        "linesMissed": 1,
        "lineCoveragePercentage": 66.67,
        "branchesCovered": 1,
        "branchesMissed": 1,
        "branchCoveragePercentage": 50.0,
    }
    jacoco = parsed("JACOCOXML", JACOCO, "CODE_COVERAGE")
    assert [(f.path, f.lines_covered, f.branches_missed) for f in jacoco.coverage] == [("com/acme/Api.java", 8, 1)]


def test_unreadable_files_are_problems_not_crashes() -> None:
    for content in (b"<not-closed", b"<html/>", BILLION_LAUGHS):
        report = parsed("JUNITXML", content)
        assert report.status == "FAILED"
        assert report.problems[0].startswith("report.file: not a JUNITXML file")


def test_a_build_reports_its_tests_even_when_they_fail_it(tmp_path: Path) -> None:
    junit = JUNIT.decode().replace("\n", " ")
    reports = (
        "reports:\n  unit:\n    files: ['reports/*.xml']\n  coverage:\n    files: [nothing.xml]\n"
        "    file-format: CoberturaXml\n"
    )
    buildspec = (
        spec(phase("build", "mkdir -p reports", f"printf '%s' '{junit}' > reports/junit.xml", "exit 1")) + reports
    )

    build = run_build(tmp_path, {"buildspec.yml": buildspec})

    assert build.result.status is BuildStatus.FAILED
    unit, coverage = build.result.reports
    assert (unit.group, unit.status, len(unit.test_cases)) == ("demo-unit", "SUCCEEDED", 4)
    assert (coverage.group, coverage.type, coverage.status) == ("demo-coverage", "CODE_COVERAGE", "FAILED")
    assert "no matching artifact paths found" in coverage.problems[0]
    assert "Report demo-unit (TEST, JUNITXML): SUCCEEDED" in build.log
