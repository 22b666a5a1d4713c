"""Buildspecs written the way real ones are — with their quirks — run through the real runner and bash.

Each file in tests/corpus is kept byte for byte (CRLF, no trailing newline: see .gitattributes); the table says
how its build must end and what its commands must print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from conveyor.build.spec import parse_buildspec
from tests.unit.test_build_runner import run_build

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@dataclass(frozen=True)
class Expected:
    status: str
    printed: tuple[str, ...] = ()  # lines the commands print, in this order
    logged: tuple[str, ...] = ()  # text in the log's own lines
    phases: tuple[tuple[str, str], ...] = ()  # (phase, status) pairs that must be among the records


EXPECTED = {
    "crlf-endings.yml": Expected("SUCCEEDED", ("hello from crlf",)),
    "empty-and-null-commands.yml": Expected(
        "SUCCEEDED", ("after-an-empty-entry", "built"), phases=(("INSTALL", "SUCCEEDED"),)
    ),
    "phases-out-of-order.yml": Expected("SUCCEEDED", ("order install", "order build", "order post_build two")),
    "folded-and-literal-blocks.yml": Expected(
        "SUCCEEDED", ("folded into one line", "literal 1", "literal 2", "literal 3", "still-succeeding")
    ),
    "no-trailing-newline.yml": Expected("SUCCEEDED", ("no-newline-at-end",)),
    "real-world-node.yml": Expected(
        "SUCCEEDED",
        (
            "installing with NODE_ENV=production NUMBER=42 FLAG=true",
            "build finally ran",
            "post_build sees CODEBUILD_BUILD_SUCCEEDING=1",
        ),
        ("Selected runtime nodejs", "Report demo-unit-tests (TEST, JUNITXML): SUCCEEDED", "as app-abc1234.zip"),
    ),
    "continue-after-install-failure.yml": Expected(
        "FAILED",
        ("trying-install", "build after a failed install, succeeding=0"),
        phases=(("INSTALL", "FAILED"), ("BUILD", "SUCCEEDED")),
    ),
    "version-0.1-fresh-shells.yml": Expected("SUCCEEDED", ("var=unset dir=src",)),
    "retry-then-pass.yml": Expected("SUCCEEDED", ("flaky network", "passed on attempt 2"), ("retrying it (1 of 2)",)),
    "legacy-env-and-run-as.yml": Expected("SUCCEEDED", ("legacy yes-it-works",)),
}


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.yml")) == sorted(EXPECTED)


def test_the_quirky_files_keep_their_quirks() -> None:
    assert b"\r\n" in (CORPUS / "crlf-endings.yml").read_bytes()
    assert not (CORPUS / "no-trailing-newline.yml").read_bytes().endswith(b"\n")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_corpus_buildspec_validates_and_runs_as_codebuild_would(name: str, tmp_path: Path) -> None:
    text = (CORPUS / name).read_bytes().decode()
    parse_buildspec(text, name)  # valid on its own, before any build
    expected = EXPECTED[name]

    build = run_build(
        tmp_path,
        {"buildspec.yml": text, "README.md": "docs\n"},
        environment={"CODEBUILD_RESOLVED_SOURCE_VERSION": "abc1234def"},
    )

    assert build.result.status.value == expected.status, build.log
    printed = [line.rstrip("\r") for line in build.output]
    positions = [printed.index(line) for line in expected.printed]
    assert positions == sorted(positions), printed
    for text_logged in expected.logged:
        assert text_logged in build.log
    for record in expected.phases:
        assert record in build.recorder.phases
