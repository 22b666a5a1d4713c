"""Registering build projects: what a build of each project runs with (buildspec, compute type, timeouts, variables).

A project name a pipeline uses without registering it is created on first use with the defaults.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from conveyor.build.project import ProjectSpec, parse_project
from conveyor.db.models import BuildProject, utcnow
from conveyor.errors import Conflict, NotFound
from conveyor.queues import build_queue
from conveyor.runtime import Runtime
from conveyor.timefmt import iso


def put_project(rt: Runtime, text: str, source: str = "project", name: str | None = None) -> dict[str, Any]:
    """Create or replace a project (CreateProject / UpdateProject); its build numbers carry on."""
    spec = parse_project(text, source)
    if name is not None and spec.name != name:
        raise Conflict(f"the file describes project {spec.name!r}, not {name!r}")
    with rt.db.session() as session:
        project = session.scalars(select(BuildProject).where(BuildProject.name == spec.name)).one_or_none()
        if project is None:
            project = BuildProject(name=spec.name, last_build_number=0)
            session.add(project)
        _apply(project, spec)
        session.flush()
        return {**describe_project(rt, project), "ignoredKeys": list(spec.ignored)}


def get_project(rt: Runtime, name: str) -> dict[str, Any]:
    with rt.db.reader() as session:
        project = session.scalars(select(BuildProject).where(BuildProject.name == name)).one_or_none()
        if project is None:
            raise NotFound(f"no build project {name!r}")
        return describe_project(rt, project)


def list_projects(rt: Runtime) -> list[dict[str, Any]]:
    with rt.db.reader() as session:
        return [describe_project(rt, p) for p in session.scalars(select(BuildProject).order_by(BuildProject.name))]


def describe_project(rt: Runtime, project: BuildProject) -> dict[str, Any]:
    """The project as batch-get-projects shows it, with the queue its builds go to."""
    compute_type = project.compute_type or rt.settings.default_compute_type
    return {
        "name": project.name,
        "description": project.description,
        "source": {"buildspec": project.buildspec},
        "environment": {"computeType": compute_type, "environmentVariables": project.environment_variables},
        "timeoutInMinutes": project.timeout_minutes or rt.settings.build_timeout_minutes,
        "queuedTimeoutInMinutes": project.queued_timeout_minutes or rt.settings.build_queued_timeout_minutes,
        "cache": project.cache or {"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
        "queue": build_queue(compute_type),
        "lastBuildNumber": project.last_build_number,
        "created": iso(project.created_at),
        "lastModified": iso(project.updated_at),
    }


def _apply(project: BuildProject, spec: ProjectSpec) -> None:
    project.description = spec.description
    project.buildspec = spec.buildspec
    project.compute_type = spec.compute_type
    project.environment_variables = [{"name": v.name, "value": v.value, "type": v.type} for v in spec.variables]
    project.timeout_minutes = spec.timeout_minutes
    project.queued_timeout_minutes = spec.queued_timeout_minutes
    project.cache = spec.cache
    project.updated_at = utcnow()
