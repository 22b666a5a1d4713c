"""Loading users' YAML and JSON with the line of every key, and reporting problems with path and line."""

from __future__ import annotations

import pytest

from conveyor.errors import Problem, SpecError
from conveyor.specfile import Document, ProblemList, load_document, render_path

PIPELINE = """\
# a comment first
pipeline:
  name: demo
  stages:
    - name: Source
      actions:
        - name: Checkout
          configuration:
            Branch: main
    - name: Build
"""


def test_lines_of_keys_and_list_items() -> None:
    document = load_document(PIPELINE, "pipeline.yml")

    assert document.data["pipeline"]["stages"][1]["name"] == "Build"
    assert document.lines[("pipeline",)] == 2
    assert document.lines[("pipeline", "name")] == 3
    assert document.lines[("pipeline", "stages")] == 4
    assert document.lines[("pipeline", "stages", 0)] == 5
    assert document.lines[("pipeline", "stages", 0, "actions", 0, "configuration", "Branch")] == 9
    assert document.lines[("pipeline", "stages", 1)] == 10
    assert document.lines[("pipeline", "stages", 1, "name")] == 10


def test_line_of_falls_back_to_the_nearest_ancestor() -> None:
    document = load_document(PIPELINE, "pipeline.yml")

    assert document.line_of(("pipeline", "stages", 0, "actions", 0, "runOrder")) == 7
    assert document.line_of(("pipeline", "stages", 5, "name")) == 4
    assert document.line_of(("variables",)) == 2


def test_line_of_is_none_when_nothing_has_a_line() -> None:
    assert Document("x.json", {"a": 1}).line_of(("a",)) is None


def test_duplicate_keys_are_reported_with_their_lines() -> None:
    text = "version: 0.2\nphases:\n  build:\n    commands: [make]\n  build:\n    commands: [test]\nversion: 0.3\n"

    with pytest.raises(SpecError) as caught:
        load_document(text, "buildspec.yml")

    problems = caught.value.problems
    assert Problem("phases.build", "duplicate key", 5) in problems
    assert Problem("version", "duplicate key", 7) in problems
    assert len(problems) == 2
    assert "buildspec.yml:5: phases.build: duplicate key" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: [1, 2\nc: 3\n", 3),
        ("a: 1\n  b: 2\n", 2),
        ("a: 1\nb: 'open\n", 3),
        ("a: 1\n---\nb: 2\n", 2),
    ],
    ids=["unclosed-list", "bad-indent", "unclosed-quote", "two-documents"],
)
def test_yaml_syntax_errors_give_a_spec_error_with_the_line(text: str, line: int) -> None:
    with pytest.raises(SpecError) as caught:
        load_document(text, "spec.yml")

    [problem] = caught.value.problems
    assert problem.line == line
    assert problem.message.startswith("not valid YAML")
    assert caught.value.source == "spec.yml"


def test_a_character_yaml_forbids_gives_a_spec_error_with_the_line() -> None:
    with pytest.raises(SpecError) as caught:
        load_document("a: 1\nb: bell\x07\n", "spec.yml")

    [problem] = caught.value.problems
    assert problem.line == 2
    assert "#x0007" in problem.message


def test_json_documents_load_with_lines() -> None:
    document = load_document('{\n  "pipeline": {\n    "name": "demo",\n    "stages": []\n  }\n}\n', "p.json")

    assert document.data == {"pipeline": {"name": "demo", "stages": []}}
    assert document.line_of(("pipeline", "name")) == 3


def test_json_that_is_not_valid_yaml_still_loads() -> None:
    text = '{\n\t"pipeline": {\n\t\t"name": "demo",\n\t\t"stages": [1, 2]\n\t}\n}\n'

    document = load_document(text, "p.json")

    assert document.data == {"pipeline": {"name": "demo", "stages": [1, 2]}}


def test_crlf_line_ends_and_a_byte_order_mark_are_accepted() -> None:
    document = load_document("\ufeffversion: 0.2\r\nphases:\r\n  build:\r\n    - make\r\n", "buildspec.yml")

    assert document.data == {"version": 0.2, "phases": {"build": ["make"]}}
    assert document.lines[("phases", "build", 0)] == 4


def test_an_empty_document_has_no_data() -> None:
    document = load_document("# nothing here\n", "empty.yml")

    assert document.data is None
    assert document.lines == {}


def test_a_recursive_alias_loads_without_recursing_forever() -> None:
    document = load_document("a: &loop [*loop]\nb: 1\n", "r.yml")

    assert document.data["a"][0] is document.data["a"]
    assert document.line_of(("b",)) == 2


def test_nested_aliases_are_walked_once_not_once_per_path() -> None:
    rows = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for name, previous in zip("bcdef", "abcde", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")

    document = load_document("\n".join(rows) + "\n", "laughs.yml")

    # every path through the aliases is 9**6 entries here; a few more levels make it minutes and gigabytes.
    # Locals only in the asserts: printing the document on a failure would take long itself.
    recorded = len(document.lines)
    key_line, alias_line = document.line_of(("f",)), document.line_of(("f", 3, 2, 1))
    assert recorded < 100
    assert key_line == 6
    assert alias_line == 5  # an alias points at its anchor, where the content is written


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("pipeline",), "pipeline"),
        (("pipeline", "stages", 0, "name"), "pipeline.stages[0].name"),
        ((0, "name"), "[0].name"),
        (("phases", "build", "commands", 2), "phases.build.commands[2]"),
    ],
)
def test_render_path(path: tuple[str | int, ...], text: str) -> None:
    assert render_path(path) == text


def test_problem_list_collects_every_problem_sorted_by_line() -> None:
    document = load_document(PIPELINE, "pipeline.yml")
    problems = ProblemList(document)
    problems.add(("pipeline", "stages", 1, "name"), "a stage needs an action")
    problems.add(("pipeline", "name"), "name taken")
    assert problems

    with pytest.raises(SpecError) as caught:
        problems.raise_if_any()

    assert [(p.line, p.path) for p in caught.value.problems] == [
        (3, "pipeline.name"),
        (10, "pipeline.stages[1].name"),
    ]
    assert caught.value.to_dict()["message"] == "pipeline.yml is invalid (2 problems)"
    assert str(caught.value).splitlines()[0] == "pipeline.yml: 2 problems"


def test_one_problem_is_counted_in_the_singular() -> None:
    error = SpecError("pipeline.yml", [Problem("pipeline.name", "name taken", 3)])

    assert error.to_dict()["message"] == "pipeline.yml is invalid (1 problem)"
    assert str(error).splitlines() == ["pipeline.yml: 1 problem", "  pipeline.yml:3: pipeline.name: name taken"]


def test_an_empty_problem_list_raises_nothing() -> None:
    problems = ProblemList(load_document(PIPELINE, "pipeline.yml"))

    problems.raise_if_any()

    assert not problems


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('{\n  "pipeline": {\n    "name": "demo"\n    "stages": []\n  }\n}\n', 4, "not valid JSON: Expecting ','"),
        ('{\n\t"a": [1, 2\n}\n', 3, "not valid JSON: Expecting ',' delimiter"),
        ('[\n  {"a": 1}\n  {"b": 2}\n]\n', 3, "not valid JSON: Expecting ',' delimiter"),
    ],
    ids=["missing-comma-in-object", "unclosed-list-with-tabs", "missing-comma-in-array"],
)
def test_json_syntax_errors_are_told_as_json_with_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_document(text, "p.json")

    [problem] = caught.value.problems
    assert problem.line == line
    assert problem.message.startswith(message)
    assert "(column " in problem.message


def test_a_yaml_flow_mapping_keeps_yaml_errors() -> None:
    with pytest.raises(SpecError) as caught:
        load_document("{name: demo,\n stages: [\n", "p.yml")

    [problem] = caught.value.problems
    assert problem.message.startswith("not valid YAML")


def test_problems_found_later_are_added_apart_from_those_already_named() -> None:
    document = load_document(PIPELINE, "pipeline.yml")
    problems = ProblemList(document)
    problems.add(("pipeline", "stages", 1), "schema: stage 1")
    later = ProblemList(document)
    later.add(("pipeline", "stages", 1, "name"), "below a named path")
    later.add(("pipeline", "stages"), "above a named path")
    later.add(("pipeline", "stages", 1), "at a named path")
    later.add(("pipeline", "stages", 10), "a sibling whose index starts alike")
    later.add(("pipeline", "stages", 0, "name"), "elsewhere")
    later.add(("pipeline", "name"), "elsewhere too")

    problems.add_apart(later)

    assert [p.message for p in problems] == [
        "schema: stage 1",
        "a sibling whose index starts alike",
        "elsewhere",
        "elsewhere too",
    ]
