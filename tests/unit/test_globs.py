"""The glob dialect of trigger filters and artifact paths (`conveyor.globs`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.globs import compile_glob, filter_matches, matches

GLOB_ALPHABET = st.sampled_from(list("ab/.-*?[]!^\\&|~()+${}"))


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("main", "main"),
        ("feature-x", "feature-*"),
        ("feature/x", "feature/*"),
        ("feature/", "feature/*"),
        ("v1.2.3", "v*"),
    ],
)
def test_star_matches_within_a_segment(name: str, pattern: str) -> None:
    assert matches(name, pattern)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("feature/x/y", "feature/*"),
        ("a/b", "*"),
        ("feature", "feature/*"),
        ("main2", "main"),
        ("xmain", "main"),
    ],
)
def test_star_does_not_cross_segments_and_the_whole_name_must_match(name: str, pattern: str) -> None:
    assert not matches(name, pattern)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("feature/x", "feature/**"),
        ("feature/x/y/z", "feature/**"),
        ("src/app/main.js", "src/**/*.js"),
        ("src/main.js", "src/**/*.js"),
        ("a/b", "a/**/b"),
        ("a/x/b", "a/**/b"),
        ("a/x/y/b", "a/**/b"),
        ("README.md", "**/README.md"),
        ("docs/deep/README.md", "**/README.md"),
        ("anything/at/all", "**"),
    ],
)
def test_double_star_matches_across_segments(name: str, pattern: str) -> None:
    assert matches(name, pattern)


@pytest.mark.parametrize(
    ("name", "pattern"),
    [
        ("a/xb", "a/**/b"),
        ("src/main.ts", "src/**/*.js"),
        ("docs/README.txt", "**/README.md"),
        ("other/x", "feature/**"),
    ],
)
def test_double_star_still_needs_the_rest_of_the_pattern(name: str, pattern: str) -> None:
    assert not matches(name, pattern)


def test_question_mark_matches_one_character_but_not_a_slash() -> None:
    assert matches("v1", "v?")
    assert not matches("v12", "v?")
    assert not matches("v", "v?")
    assert not matches("a/b", "a?b")


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("release-a", "release-[abc]", True),
        ("release-d", "release-[abc]", False),
        ("v7", "v[0-9]", True),
        ("vx", "v[0-9]", False),
        ("vx", "v[!0-9]", True),
        ("v7", "v[!0-9]", False),
        ("vx", "v[^0-9]", True),
        ("v7", "v[^0-9]", False),
        ("a]", "a[]]", True),
        ("a-", "a[a-]", True),
        ("ab", "a[!]]", True),
        ("a]", "a[!]]", False),
        ("a[", "a[[]", True),
        ("a\\", "a[\\]", True),
        ("a-b", "a[--]b", True),
        ("a&b", "a[&&]b", True),
        ("a~", "a[~~]", True),
    ],
)
def test_character_classes_and_their_negation(name: str, pattern: str, expected: bool) -> None:
    assert matches(name, pattern) is expected


def test_a_negated_class_does_not_match_a_slash() -> None:
    assert not matches("a/b", "a[!x]b")


def test_a_reversed_range_matches_nothing() -> None:
    assert not matches("b", "[b-a]")
    assert not matches("-", "[?--]")
    assert matches("c", "[!b-a]")
    assert matches("x", "[b-ax]")


def test_an_unclosed_bracket_is_literal() -> None:
    assert matches("a[b", "a[b")
    assert matches("a[!]", "a[!]")
    assert not matches("ab", "a[b")


@pytest.mark.parametrize(
    ("name", "pattern", "expected"),
    [
        ("v1.2", "v1.2", True),
        ("v1x2", "v1.2", False),
        ("a+b", "a+b", True),
        ("aab", "a+b", False),
        ("(x)", "(x)", True),
        ("a$", "a$", True),
        ("a|b", "a|b", True),
        ("a", "a|b", False),
        ("x{1}", "x{1}", True),
        ("^x", "^x", True),
    ],
)
def test_regex_characters_are_literal(name: str, pattern: str, expected: bool) -> None:
    assert matches(name, pattern) is expected


@settings(max_examples=200, deadline=None)
@given(pattern=st.text(GLOB_ALPHABET, max_size=12))
def test_every_pattern_compiles(pattern: str) -> None:
    assert compile_glob(pattern).pattern.endswith(r"\Z")


@settings(max_examples=200, deadline=None)
@given(literal=st.text(st.characters(exclude_characters="*?["), max_size=12), other=st.text(max_size=12))
def test_a_pattern_without_wildcards_matches_only_itself(literal: str, other: str) -> None:
    assert matches(literal, literal)
    assert matches(other, literal) is (other == literal)


def test_filter_without_includes_matches_everything_not_excluded() -> None:
    assert filter_matches("anything", None, None)
    assert filter_matches("anything", [], [])
    assert filter_matches("main", None, ["release/*"])
    assert not filter_matches("release/1", None, ["release/*"])


def test_filter_includes_any_pattern() -> None:
    assert filter_matches("main", ["main", "release/*"], None)
    assert filter_matches("release/1", ["main", "release/*"], None)
    assert not filter_matches("feature/x", ["main", "release/*"], None)


def test_filter_excludes_win_over_includes() -> None:
    assert not filter_matches("release/beta", ["release/*"], ["release/beta"])
    assert filter_matches("release/1", ["release/*"], ["release/beta"])
