"""Choosing artifact files: globs, plain paths, base-directory, discard-paths, and nothing from outside the source."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conveyor.build.artifacts import ArtifactError, select_files
from conveyor.build.spec_outputs import ArtifactsSpec

TREE = [
    "README.md",
    "dist/app.js",
    "dist/assets/logo.svg",
    "dist/assets/fonts/mono.woff",
    "pkg/api/out/api.whl",
    "pkg/web/out/web.whl",
    "pkg/web/out/extra/notes.txt",
]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    for relative in TREE:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{relative}\n")
    return root


def names(source: Path, *files: str, base_directory: str | None = None, discard_paths: bool = False) -> list[str]:
    spec = ArtifactsSpec(files=files, base_directory=base_directory, discard_paths=discard_paths)
    return [name for _, name in select_files(source, spec)]


def test_double_star_selects_everything_below_the_source(source: Path) -> None:
    assert names(source, "**/*") == sorted(TREE)


def test_selected_pairs_point_at_the_files_on_disk(source: Path) -> None:
    pairs = select_files(source, ArtifactsSpec(files=("dist/app.js",)))

    assert pairs == [(source.resolve() / "dist/app.js", "dist/app.js")]


def test_dir_star_selects_only_files_directly_in_the_directory(source: Path) -> None:
    assert names(source, "dist/*") == ["dist/app.js"]


def test_a_plain_file_path_selects_that_file(source: Path) -> None:
    assert names(source, "README.md") == ["README.md"]


@pytest.mark.parametrize("pattern", ["dist/assets", "dist/assets/", "./dist/assets"])
def test_a_plain_directory_path_selects_everything_in_it(source: Path, pattern: str) -> None:
    assert names(source, pattern) == ["dist/assets/fonts/mono.woff", "dist/assets/logo.svg"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("pkg/web/out/extra/notes.txt", ["pkg/web/out/extra/notes.txt"]),
        ("pkg/web", ["pkg/web/out/extra/notes.txt", "pkg/web/out/web.whl"]),
        ("pkg/*/out/*.whl", ["pkg/api/out/api.whl", "pkg/web/out/web.whl"]),
        ("*/app.js", ["dist/app.js"]),
        ("**/notes.txt", ["pkg/web/out/extra/notes.txt"]),
        ("dist/as[s]ets/**/*.woff", ["dist/assets/fonts/mono.woff"]),
        ("pkg/web/out/missing", []),
    ],
)
def test_a_pattern_finds_its_files_at_any_depth_beside_others(source: Path, pattern: str, expected: list[str]) -> None:
    assert names(source, pattern, "README.md") == ["README.md", *expected]


def test_several_patterns_select_their_union_once(source: Path) -> None:
    assert names(source, "dist/*", "dist/app.js", "README.md") == ["README.md", "dist/app.js"]


def test_base_directory_drops_its_own_name_from_the_stored_paths(source: Path) -> None:
    assert names(source, "**/*", base_directory="dist") == ["app.js", "assets/fonts/mono.woff", "assets/logo.svg"]


def test_a_globbed_base_directory_takes_files_from_every_match(source: Path) -> None:
    assert names(source, "*.whl", base_directory="pkg/*/out") == ["api.whl", "web.whl"]


def test_discard_paths_keeps_only_file_names(source: Path) -> None:
    assert names(source, "dist/**/*", discard_paths=True) == ["app.js", "logo.svg", "mono.woff"]


def test_nothing_matched_is_an_error_naming_the_patterns(source: Path) -> None:
    with pytest.raises(ArtifactError, match=r"no matching artifact paths found for build/\*, target/app\.jar"):
        names(source, "build/*", "target/app.jar")


def test_a_base_directory_matching_nothing_is_an_error(source: Path) -> None:
    with pytest.raises(ArtifactError, match="base-directory 'build' matches no directory"):
        names(source, "**/*", base_directory="build")


@pytest.mark.parametrize("pattern", ["../secret.txt", "dist/../../secret.txt", "/etc/hostname"])
def test_patterns_reaching_outside_the_source_are_refused(source: Path, pattern: str) -> None:
    with pytest.raises(ArtifactError, match="points outside the source directory"):
        names(source, pattern)


@pytest.mark.parametrize("pattern", ["../secret.txt", "/etc/hostname"])
def test_a_pattern_reaching_outside_is_refused_even_beside_one_that_matches(source: Path, pattern: str) -> None:
    with pytest.raises(ArtifactError, match="points outside the source directory"):
        names(source, "**/*", pattern)


def test_a_climbing_base_directory_is_refused(source: Path) -> None:
    with pytest.raises(ArtifactError, match="points outside the source directory"):
        names(source, "**/*", base_directory="../")


def test_a_symlink_pointing_outside_the_source_is_refused(source: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret\n")
    os.symlink(secret, source / "dist" / "leak.txt")

    with pytest.raises(ArtifactError, match=r"dist/leak\.txt resolves outside the source directory"):
        names(source, "dist/*")


def test_a_symlink_pointing_inside_the_source_is_selected(source: Path) -> None:
    os.symlink("app.js", source / "dist" / "latest.js")

    assert names(source, "dist/*") == ["dist/app.js", "dist/latest.js"]
