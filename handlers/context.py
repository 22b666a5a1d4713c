"""The runtime of the app serving the current request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app

from conveyor.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["conveyor"]
    return rt


def hands_in_a_record(view: Callable[P, R]) -> Callable[P, R]:
    """For a view that records what it received through the commit group (a delivery, a chat command): while it
    verifies and parses, a transaction starting in another thread waits for its record (see `CommitGroup.expecting`)."""

    @wraps(view)
    def announced(*args: P.args, **kwargs: P.kwargs) -> R:
        with runtime().commit_group.expecting():
            return view(*args, **kwargs)

    return announced
