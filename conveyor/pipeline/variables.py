"""Pipeline variables: `#{namespace.key}` references in action configurations, checked and resolved. Pure.

A reference names a namespace and a key (both case-sensitive):

* `codepipeline`: the execution's own values; `PipelineExecutionId` is always there;
* `variables`: the pipeline's variables, their declared defaults overridden by the values the execution was
  started with;
* the `namespace` of an action that runs before the referring one (an earlier stage, or a lower runOrder in the
  same stage): that action's output variables.

References may stand in configuration values and, in Commands actions, in `commands` and in the values of
`environmentVariables`. A definition is checked when it is saved: a reference to an unknown namespace, to an action
that does not run first, to an undeclared pipeline variable, or to a key a provider never outputs (for a Commands
action: a name missing from its `outputVariables`) is an error at the field that holds it. At run time references
are resolved just before the action starts, by substitution in each value; a key the producing action did not
output fails the referring action, naming the reference.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.pipeline.catalog import provider_spec
from conveyor.specfile import Path as SpecPath
from conveyor.specfile import ProblemList

REFERENCE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_.-]+)\}")
CODEPIPELINE = "codepipeline"
PIPELINE_VARIABLES = "variables"
CODEPIPELINE_KEYS = frozenset({"PipelineExecutionId", "PipelineName"})
JSON_CONFIGURATION_KEYS = frozenset({"EnvironmentVariables", "ParameterOverrides"})  # JSON strings: substituted escaped
MAX_RESOLVED_BYTES = 100 * 1024  # CodePipeline's limit on an action's resolved configuration

Scope = Mapping[str, Mapping[str, str]]  # namespace → key → value


@dataclass(frozen=True)
class Reference:
    namespace: str
    key: str

    def __str__(self) -> str:
        return f"#{{{self.namespace}.{self.key}}}"


class UnresolvedReference(ValueError):
    """A reference with no value at run time; the message names the reference and the configuration key."""


def references(text: str) -> list[Reference]:
    return [Reference(m.group(1), m.group(2)) for m in REFERENCE.finditer(text)]


def resolve_configuration(configuration: Mapping[str, str], scope: Scope) -> dict[str, str]:
    """Every configuration value with its references replaced; raises UnresolvedReference."""
    resolved = {key: _resolve(key, value, scope) for key, value in configuration.items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in resolved.items())
    if size > MAX_RESOLVED_BYTES:
        raise UnresolvedReference(f"the resolved configuration is {size} bytes, above the limit of 100 KB")
    return resolved


def _resolve(field: str, value: str, scope: Scope) -> str:
    return resolve_text(value, scope, f"configuration {field}", json_escaped=field in JSON_CONFIGURATION_KEYS)


def resolve_text(value: str, scope: Scope, where: str, *, json_escaped: bool = False) -> str:
    """`value` with its references replaced; UnresolvedReference names the reference and `where` it stands."""

    def substitute(match: re.Match[str]) -> str:
        reference = Reference(match.group(1), match.group(2))
        values = scope.get(reference.namespace)
        if values is None:
            raise UnresolvedReference(
                f"{reference} in {where}: namespace {reference.namespace!r} has no variables in this execution"
            )
        if reference.key not in values:
            offered = ", ".join(sorted(values)) or "none"
            raise UnresolvedReference(
                f"{reference} in {where}: namespace {reference.namespace!r} has no variable {reference.key!r} "
                f"(it has: {offered})"
            )
        text = str(values[reference.key])
        return json.dumps(text)[1:-1] if json_escaped else text  # a commit message's quotes keep the JSON whole

    return REFERENCE.sub(substitute, value)


def execution_scope(
    execution_id: str,
    pipeline_name: str,
    pipeline_variables: Mapping[str, str],
    action_outputs: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, str]]:
    """The namespaces an action of this execution can read: its own, the pipeline's and its producers'."""
    scope = {namespace: {k: str(v) for k, v in outputs.items()} for namespace, outputs in action_outputs.items()}
    scope[CODEPIPELINE] = {"PipelineExecutionId": execution_id, "PipelineName": pipeline_name}
    scope[PIPELINE_VARIABLES] = dict(pipeline_variables)
    return scope


def pipeline_variable_values(declared: list[dict[str, Any]], given: Mapping[str, str]) -> dict[str, str]:
    """The values of an execution's pipeline variables: each declared default, overridden by what was given."""
    values = {v["name"]: v["defaultValue"] for v in declared if "defaultValue" in v}
    values.update(given)
    return values


def check_references(data: dict[str, Any], prefix: SpecPath, problems: ProblemList) -> None:
    """Report every reference in the actions' configurations that could never resolve."""
    declared = {v["name"] for v in data.get("variables", [])}
    producers: dict[str, tuple[int, int, dict[str, Any]]] = {}  # namespace → (stage index, runOrder, action)
    for s_index, stage in enumerate(data["stages"]):
        for action in stage["actions"]:
            if action.get("namespace"):
                producers.setdefault(action["namespace"], (s_index, action["runOrder"], action))
    for s_index, stage in enumerate(data["stages"]):
        for a_index, action in enumerate(stage["actions"]):
            path = (*prefix, "stages", s_index, "actions", a_index)
            is_source = action["actionTypeId"]["category"] == "Source"
            for where, value in referring_texts(action):
                for reference in references(str(value)):
                    problem = (
                        f"{reference}: a source action's configuration decides which pushes start the pipeline "
                        "and cannot hold variable references"
                        if is_source
                        else _reference_problem(reference, (s_index, action["runOrder"]), declared, producers)
                    )
                    if problem:
                        problems.add((*path, *where), problem)


def referring_texts(action: dict[str, Any]) -> Iterator[tuple[SpecPath, Any]]:
    """Every value of an action that may hold references, with its path inside the action."""
    for key, value in action.get("configuration", {}).items():
        yield ("configuration", key), value
    for index, command in enumerate(action.get("commands", [])):
        yield ("commands", index), command
    for index, variable in enumerate(action.get("environmentVariables", [])):
        yield ("environmentVariables", index, "value"), variable.get("value", "")


def _reference_problem(
    reference: Reference,
    position: tuple[int, int],
    declared: set[str],
    producers: dict[str, tuple[int, int, dict[str, Any]]],
) -> str | None:
    if reference.namespace == CODEPIPELINE:
        if reference.key not in CODEPIPELINE_KEYS:
            return f"{reference}: the codepipeline namespace has {', '.join(sorted(CODEPIPELINE_KEYS))}"
        return None
    if reference.namespace == PIPELINE_VARIABLES:
        if reference.key not in declared:
            return f"{reference}: the pipeline declares no variable {reference.key!r}"
        return None
    producer = producers.get(reference.namespace)
    if producer is None:
        return f"{reference}: no action declares the namespace {reference.namespace!r}"
    stage_index, run_order, action = producer
    if (stage_index, run_order) >= position:
        return (
            f"{reference}: action {action['name']!r} (namespace {reference.namespace!r}) does not run before "
            "this one: it must be in an earlier stage, or at a lower runOrder in the same stage"
        )
    type_id = action["actionTypeId"]
    spec = provider_spec(type_id["category"], type_id["provider"])
    if spec is not None and spec.output_variables is not None and reference.key not in spec.output_variables:
        offered = ", ".join(sorted(spec.output_variables)) or "no variables"
        return f"{reference}: {type_id['provider']} actions output {offered}"
    exported = action.get("outputVariables", [])
    if type_id["provider"] == "Commands" and reference.key not in exported:
        listed = f"only {', '.join(exported)} (its outputVariables)" if exported else "nothing (no outputVariables)"
        return f"{reference}: action {action['name']!r} exports {listed}"
    return None
