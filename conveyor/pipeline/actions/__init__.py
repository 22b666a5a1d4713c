"""Action providers: how each kind of action starts, and how its work reports back.

Starting an action happens inside the transaction that advanced the execution: a starter writes the rows its work
needs and adds dispatches to the outbox. The work itself runs in a job and ends with `service.complete_action`.
"""

from __future__ import annotations

from collections.abc import Callable

from conveyor.pipeline.actions import codebuild, git_source
from conveyor.pipeline.actions.base import ActionStart
from conveyor.pipeline.spec import ActionDeclaration

Starter = Callable[[ActionStart], None]

STARTERS: dict[tuple[str, str], Starter] = {
    ("Source", "CodeStarSourceConnection"): git_source.start,
    ("Source", "GitHub"): git_source.start,
    ("Source", "Git"): git_source.start,
    ("Build", "CodeBuild"): codebuild.start,
    ("Test", "CodeBuild"): codebuild.start,
}


def starter_for(declaration: ActionDeclaration) -> Starter:
    return STARTERS[(declaration.type_id.category, declaration.type_id.provider)]


__all__ = ["ActionStart", "Starter", "starter_for"]
