"""Starting builds: a submitted build handed to its compute type's queue, and StartBuild of a project on its own.

A build a pipeline action or a batch starts has its sources; a project built on its own (by a schedule) has none,
as CodeBuild's NO_SOURCE projects: its buildspec must be inline, for there is no source to read one from.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from conveyor.build.request import is_inline
from conveyor.build.service import submit_build
from conveyor.config import Settings
from conveyor.db.models import Build, BuildProject
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import InvalidRequest, NotFound
from conveyor.queues import build_queue


def queue_build(outbox: Outbox, build: Build) -> None:
    """Send a submitted build to its queue; its job may run for the build's timeout and five minutes more."""
    outbox.add(Kind.BUILD, build.id, build_queue(build.compute_type), timeout_seconds=build.timeout_minutes * 60 + 300)


def check_sourceless(session: Session, project_name: str) -> BuildProject:
    """The registered project, if it can build without a source (its buildspec inline)."""
    project = session.scalars(select(BuildProject).where(BuildProject.name == project_name)).one_or_none()
    if project is None:
        raise NotFound(f"no build project {project_name!r}: register it first (conveyor projects put -f FILE)")
    if not is_inline(project.buildspec):
        where = project.buildspec or "buildspec.yml"
        raise InvalidRequest(
            f"build project {project_name!r} reads its buildspec from a source ({where}), and a build started on its "
            "own has no source: give the project an inline buildspec, or start a pipeline instead"
        )
    return project


def start_build(
    session: Session, outbox: Outbox, settings: Settings, project_name: str, initiator: str, environment: dict[str, str]
) -> Build:
    """StartBuild of a registered project without a source, in the caller's transaction; `environment` wins over the
    project's variables."""
    check_sourceless(session, project_name)
    build = submit_build(session, settings, project_name, initiator=initiator, inputs=[], environment=environment)
    session.flush()
    queue_build(outbox, build)
    return build
