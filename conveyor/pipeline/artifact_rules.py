"""The rules artifacts and namespaces keep across a pipeline: each output artifact is produced once, each input is
the output of an earlier action (an earlier stage, or a lower runOrder in the same stage), a full clone
(`OutputArtifactFormat: CODEBUILD_CLONE_REF`) goes only to CodeBuild actions, and namespaces are unique and not
reserved. Pure: part of the spec parser."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline.catalog import is_full_clone
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

RESERVED_NAMESPACES = frozenset({"codepipeline", "variables"})  # `#{codepipeline.…}` and `#{variables.…}`


def check_artifacts_and_namespaces(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    produced = _outputs(data, prefix, problems)
    clones = {
        output["name"]
        for stage in data["stages"][:1]  # the first stage's sources (none, when the stages are missing)
        for action in stage["actions"]
        if is_full_clone(action.get("configuration", {}))
        for output in action.get("outputArtifacts", [])
    }
    namespaces: set[str] = set()
    for s_index, stage in enumerate(data["stages"]):
        for a_index, action in enumerate(stage["actions"]):
            path = (*prefix, "stages", s_index, "actions", a_index)
            _check_inputs(action, (s_index, action["runOrder"]), produced, clones, path, problems)
            _check_namespace(action.get("namespace"), namespaces, produced, path, problems)


def _outputs(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> dict[str, tuple[int, int]]:
    """Each output artifact → (stage index, runOrder) of the action producing it; one produced twice is a problem."""
    produced: dict[str, tuple[int, int]] = {}
    for s_index, stage in enumerate(data["stages"]):
        for a_index, action in enumerate(stage["actions"]):
            for o_index, artifact in enumerate(action.get("outputArtifacts", [])):
                if artifact["name"] in produced:
                    problems.add(
                        (*prefix, "stages", s_index, "actions", a_index, "outputArtifacts", o_index, "name"),
                        f"output artifact {artifact['name']!r} is already produced by another action",
                    )
                produced.setdefault(artifact["name"], (s_index, action["runOrder"]))
    return produced


def _check_inputs(
    action: dict[str, Any],
    position: tuple[int, int],
    produced: dict[str, tuple[int, int]],
    clones: set[str],
    path: SpecPath,
    problems: ProblemList,
) -> None:
    for i_index, artifact in enumerate(action.get("inputArtifacts", [])):
        name = artifact["name"]
        origin = produced.get(name)
        if origin is None or origin >= position:
            problems.add(
                (*path, "inputArtifacts", i_index, "name"),
                f"input artifact {name!r} is not the output of an earlier action",
            )
        elif name in clones and action["actionTypeId"]["provider"] != "CodeBuild":
            problems.add(
                (*path, "inputArtifacts", i_index, "name"),
                f"input artifact {name!r} is a full clone (its source's OutputArtifactFormat is CODEBUILD_CLONE_REF): "
                "only CodeBuild actions can take it",
            )


def _check_namespace(
    namespace: str | None,
    namespaces: set[str],
    produced: dict[str, tuple[int, int]],
    path: SpecPath,
    problems: ProblemList,
) -> None:
    if namespace is None:
        return
    if namespace in RESERVED_NAMESPACES:
        problems.add((*path, "namespace"), f"namespace {namespace!r} is reserved for Conveyor's own variables")
    elif namespace in namespaces or namespace in produced:
        problems.add((*path, "namespace"), f"namespace {namespace!r} is already used by an action or artifact")
    namespaces.add(namespace)
