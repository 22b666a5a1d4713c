"""`install.runtime-versions`: matching versions, finding them on the worker, and a build that uses them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor.build import runtimes
from conveyor.build.spec import parse_buildspec
from conveyor.errors import SpecError
from tests.unit.test_build_runner import phase, run_build, spec


@pytest.mark.parametrize(
    ("wanted", "version", "expected"),
    [
        ("18", "18.19.0", True),
        ("18", "20.11.1", False),
        ("3.12", "3.12.1", True),
        ("3.1", "3.12.1", False),  # 3.1 is not 3.12
        ("3.x", "3.9.18", True),
        ("latest", "21.0.2", True),
        ("corretto17", "17.0.9", True),
        ("corretto17", "21.0.2", False),
        ("1.21", "1.21.5", True),
        ("nonsense", "1.0", False),
    ],
)
def test_a_wanted_version_matches_installed_versions_component_by_component(
    wanted: str, version: str, expected: bool
) -> None:
    assert runtimes.matches(wanted, version) is expected


def fake_runtime(root: Path, runtime: str, version: str, executable: str) -> Path:
    """`<root>/<runtime>/<version>/bin/<executable>` that prints its version as the real one would."""
    bin_dir = root / runtime / version / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / executable
    script.write_text(f"#!/bin/sh\necho v{version}\n")
    script.chmod(0o755)
    return bin_dir


def test_the_highest_matching_version_in_the_runtimes_directory_is_chosen(tmp_path: Path) -> None:
    for version in ("16.20.2", "18.17.0", "18.19.0", "20.11.1"):
        fake_runtime(tmp_path, "nodejs", version, "node")
    path = os.environ["PATH"]

    (eighteen, latest, variable, missing) = runtimes.select(
        (("nodejs", "18"), ("nodejs", "latest"), ("nodejs", "$NODE_VERSION"), ("nodejs", "14")),
        {"NODE_VERSION": "16.x"},
        tmp_path,
        path,
    )

    assert eighteen.chosen is not None
    assert eighteen.chosen.version == "18.19.0"
    assert eighteen.chosen.bin_dir == tmp_path / "nodejs" / "18.19.0" / "bin"
    assert latest.chosen is not None
    assert latest.chosen.version.split(".")[0] in ("20", *[str(n) for n in range(21, 40)])
    assert variable.chosen is not None
    assert variable.chosen.version == "16.20.2"
    assert missing.chosen is None
    assert "runtime nodejs 14 is not installed on this worker (found: 16.20.2, 18.17.0" in missing.describe()


def test_an_unknown_runtime_is_a_warning(tmp_path: Path) -> None:
    (selection,) = runtimes.select((("cobol", "85"),), {}, tmp_path, "")

    assert selection.chosen is None
    assert "unknown runtime 'cobol'" in selection.describe()


def test_a_version_like_3_10_is_read_as_written() -> None:
    parsed = parse_buildspec(
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.10\n      nodejs: '18'\n"
        "      java: corretto17\n"
    )

    install = parsed.phase("install")
    assert install is not None
    assert install.runtime_versions == (("python", "3.10"), ("nodejs", "18"), ("java", "corretto17"))
    assert parsed.not_yet_run == ()


def test_runtime_versions_outside_install_or_without_a_version_are_problems() -> None:
    text = (
        "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python:\n  build:\n    runtime-versions: {}\n"
    )
    with pytest.raises(SpecError) as caught:
        parse_buildspec(text)

    message = str(caught.value)
    assert "phases.install.runtime-versions.python: needs a version" in message
    assert "phases.build.runtime-versions: runtime-versions belongs in the install phase" in message


def test_a_build_runs_with_the_runtime_it_asked_for(tmp_path: Path) -> None:
    runtimes_dir = tmp_path / "runtimes"
    fake_runtime(runtimes_dir, "nodejs", "18.19.0", "node")
    fake_runtime(runtimes_dir, "nodejs", "16.20.2", "node")
    versioned = tmp_path / "bin"
    versioned.mkdir()
    (versioned / "python3.99").write_text("#!/bin/sh\necho 'Python 3.99.0 (fake)'\n")
    (versioned / "python3.99").chmod(0o755)
    buildspec = spec(
        phase("install", "node --version", "python --version", "python3 --version", extra=RUNTIMES),
        phase("build", "node --version"),
    )

    build = run_build(
        tmp_path,
        {"buildspec.yml": buildspec},
        runtimes_dir=runtimes_dir,
        environment={"PATH": f"{versioned}:{os.environ['PATH']}"},
    )

    assert build.result.status.value == "SUCCEEDED", build.log
    assert build.output.count("v18.19.0") == 2  # and it stays selected for the later phases
    assert build.output.count("Python 3.99.0 (fake)") == 2
    assert "Selected runtime nodejs 18.19.0" in build.log
    assert "Selected runtime python 3.99" in build.log
    assert "Warning: runtime golang 0.1 is not installed on this worker" in build.log


RUNTIMES = "    runtime-versions:\n      nodejs: 18\n      python: 3.99\n      golang: 0.1\n"
