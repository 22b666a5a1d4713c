"""Pull-request triggers in pipeline definitions: accepted as CodePipeline takes them, refused with path and line."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline.spec import parse_pipeline
from tests.unit.test_pipeline_spec import as_yaml, assert_problem, pipeline, problem_at, problems, trigger

GIT = "pipeline.triggers[0].gitConfiguration"


def test_pull_request_filters_are_accepted_and_kept_as_written() -> None:
    filters: list[dict[str, Any]] = [
        {
            "events": ["OPEN", "UPDATED"],
            "branches": {"includes": ["main", "release/**"], "excludes": ["release/old/**"]},
            "filePaths": {"includes": ["src/**"], "excludes": ["**/*.md"]},
        },
        {"branches": {"includes": ["main"]}, "events": ["CLOSED"]},
        {"branches": {"excludes": ["wip/**"]}},
    ]
    definition = parse_pipeline(as_yaml(pipeline(triggers=[trigger(pullRequest=filters)])))
    assert definition.pipeline_type == "V2"
    assert definition.triggers()[0]["gitConfiguration"]["pullRequest"] == filters


def test_push_and_pull_request_filters_go_together_in_one_trigger() -> None:
    both = trigger(push=[{"branches": {"includes": ["main"]}}], pullRequest=[{"branches": {"includes": ["main"]}}])
    configuration = parse_pipeline(as_yaml(pipeline(triggers=[both]))).triggers()[0]["gitConfiguration"]
    assert set(configuration) == {"sourceActionName", "push", "pullRequest"}


def test_a_pull_request_filter_needs_branches() -> None:
    document = pipeline(triggers=[trigger(pullRequest=[{"events": ["OPEN"], "filePaths": {"includes": ["src/**"]}}])])
    assert_problem(document, f"{GIT}.pullRequest[0]", "- events:", "needs branches")


def test_an_unknown_event_is_named_at_its_path() -> None:
    document = pipeline(triggers=[trigger(pullRequest=[{"branches": {"includes": ["main"]}, "events": ["MERGED"]}])])
    text = as_yaml(document)
    problem = problem_at(problems(text), f"{GIT}.pullRequest[0].events[0]")
    assert "MERGED" in problem.message
    assert problem.line is not None


def test_events_must_not_repeat_or_be_empty() -> None:
    repeated = pipeline(triggers=[trigger(pullRequest=[{"branches": {"includes": ["main"]}, "events": ["OPEN"] * 2}])])
    assert "non-unique" in problem_at(problems(as_yaml(repeated)), f"{GIT}.pullRequest[0].events").message
    empty = pipeline(triggers=[trigger(pullRequest=[{"branches": {"includes": ["main"]}, "events": []}])])
    assert "at least 1 item" in problem_at(problems(as_yaml(empty)), f"{GIT}.pullRequest[0].events").message


def test_one_to_three_pull_request_filters() -> None:
    one = {"branches": {"includes": ["main"]}}
    for count in (0, 4):
        document = pipeline(triggers=[trigger(pullRequest=[one] * count)])
        problem = problem_at(problems(as_yaml(document)), f"{GIT}.pullRequest")
        assert f"not {count}" in problem.message


def test_an_unknown_key_in_a_pull_request_filter_is_named() -> None:
    document = pipeline(
        triggers=[trigger(pullRequest=[{"branches": {"includes": ["main"]}, "tags": {"includes": ["v*"]}}])]
    )
    assert_problem(document, f"{GIT}.pullRequest[0].tags", "tags:", "unknown key 'tags'")


def test_an_empty_glob_list_in_a_pull_request_filter_is_named() -> None:
    document = pipeline(
        triggers=[trigger(pullRequest=[{"branches": {"includes": ["main"]}, "filePaths": {"includes": []}}])]
    )
    assert problem_at(problems(as_yaml(document)), f"{GIT}.pullRequest[0].filePaths.includes")


def test_every_pull_request_problem_is_reported_at_once() -> None:
    document = pipeline(
        triggers=[
            trigger(
                pullRequest=[
                    {"events": ["OPEN"]},
                    {"branches": {"includes": ["main"]}},
                    {"filePaths": {"includes": ["src/**"]}},
                ]
            )
        ]
    )
    found = problems(as_yaml(document))
    assert sorted(p.path for p in found) == [f"{GIT}.pullRequest[0]", f"{GIT}.pullRequest[2]"]
