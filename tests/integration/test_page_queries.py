"""The newest-first pages people read most (executions, builds and batches; all of them, or one pipeline's or
project's) are read in the order of an index and stop at the page's end, on SQLite and PostgreSQL alike: no plan
sorts the rows, which would read every execution or build ever made, nor reads a table whole."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from conveyor.build import batch_views
from conveyor.build import views as build_views
from conveyor.pipeline import definitions
from conveyor.pipeline import views as pipeline_views
from conveyor.runtime import Runtime
from tests.support.pipelines import as_yaml, pipeline
from tests.support.query_plans import full_scans, plan_of, selects_during, sorts

SMALL = frozenset({"pipelines"})  # a row per pipeline: a pipeline's page looks its name up there first


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(pipeline_views.page_of_executions, id="executions"),
        pytest.param(lambda rt: pipeline_views.page_of_executions(rt, "app"), id="executions-of-a-pipeline"),
        pytest.param(build_views.page_of_builds, id="builds"),
        pytest.param(lambda rt: build_views.page_of_builds(rt, "app"), id="builds-of-a-project"),
        pytest.param(batch_views.list_batches, id="batches"),
        pytest.param(lambda rt: batch_views.list_batches(rt, "app"), id="batches-of-a-project"),
    ],
)
def test_a_page_is_read_in_index_order(rt: Runtime, page: Callable[[Runtime], Any]) -> None:
    definitions.create_pipeline(rt, as_yaml(pipeline("app", "file:///nowhere")))

    statements = selects_during(rt, lambda: page(rt))

    assert statements
    for statement, parameters in statements:
        steps = plan_of(rt, statement, parameters)
        assert not sorts(rt, steps), (statement, steps)
        assert [table for table in full_scans(rt, steps) if table not in SMALL] == [], (statement, steps)
