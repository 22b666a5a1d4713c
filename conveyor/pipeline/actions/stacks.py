"""CloudFormation stacks and change sets through one boto3 client: each operation, then waiting for it to settle.

Every operation ends by polling (`describe_stacks`, `describe_change_set`) until nothing is in progress, sleeping
`poll_seconds` between looks (sleep and clock are injected, so waiting is tested without waiting). A stack that is
still busy at the deadline fails the action: CloudFormation carries on with it, and the next run of the action waits
for it to settle before doing anything.

An operation that ends in a failure status (`*_FAILED`, `ROLLBACK_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …) raises
`StackFailed` with the reason of the operation's first failed stack event, as CodePipeline shows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

POLL_SECONDS = 5.0
# REPLACE_ON_FAILURE deletes and creates again a stack in one of these states
FAILED_STATES = frozenset(
    {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "DELETE_FAILED", "UPDATE_ROLLBACK_FAILED"}
)
REVIEW_IN_PROGRESS = "REVIEW_IN_PROGRESS"  # created by a change set that was never executed: no resources yet
_NO_CHANGES = ("No updates are to be performed", "didn't contain changes")
_MISSING_CHANGE_SET = frozenset({"ChangeSetNotFound", "ChangeSetNotFoundException", "ValidationError"})
_CHANGE_SET_BUSY = frozenset({"CREATE_PENDING", "CREATE_IN_PROGRESS", "DELETE_PENDING", "DELETE_IN_PROGRESS"})


class StackFailed(Exception):
    """A stack operation that did not succeed; `error_code` is the action's CodePipeline failure type."""

    def __init__(self, message: str, error_code: str = "JobFailed") -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


@dataclass(frozen=True)
class StackRequest:
    """What creating or updating a stack, or making a change set, sends: the template and what goes with it."""

    template_body: str
    template_location: str  # `Artifact::path`, for messages
    parameters: dict[str, str]
    capabilities: tuple[str, ...] = ()
    role_arn: str | None = None  # the service role CloudFormation itself uses for the stack
    tags: dict[str, str] | None = None  # None leaves the stack's tags as they are
    stack_policy: str | None = None

    def arguments(self, *, change_set: bool = False) -> dict[str, Any]:
        """Keyword arguments for create_stack / update_stack (or, `change_set`, create_change_set)."""
        arguments: dict[str, Any] = {
            "TemplateBody": self.template_body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()],
        }
        if self.capabilities:
            arguments["Capabilities"] = list(self.capabilities)
        if self.role_arn:
            arguments["RoleARN"] = self.role_arn
        if self.tags is not None:
            arguments["Tags"] = [{"Key": k, "Value": v} for k, v in self.tags.items()]
        if self.stack_policy is not None and not change_set:  # a change set cannot carry one
            arguments["StackPolicyBody"] = self.stack_policy
        return arguments


@dataclass(frozen=True)
class Result:
    """How an operation ended: a summary for the action, and the stack as it stands now (None when gone)."""

    summary: str
    stack: dict[str, Any] | None


def outputs(stack: dict[str, Any] | None) -> dict[str, str]:
    """The stack's Outputs as a mapping of key to value."""
    return {o["OutputKey"]: str(o.get("OutputValue", "")) for o in (stack or {}).get("Outputs") or []}


def no_changes(message: str) -> bool:
    return any(marker in message for marker in _NO_CHANGES)


class Stacks:
    """One action's stack operations, with one deadline for all of its waiting."""

    def __init__(
        self,
        client: Any,
        deadline: float,
        *,
        poll_seconds: float = POLL_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.deadline = deadline  # on `clock`'s scale
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.clock = clock

    def describe(self, stack: str) -> dict[str, Any] | None:
        """The stack named (or with that id), or None when there is none; a deleted stack counts as none."""
        try:
            found: dict[str, Any] = self.client.describe_stacks(StackName=stack)["Stacks"][0]
        except ClientError as exc:
            if _code(exc) == "ValidationError" and "does not exist" in _message(exc):
                return None
            raise
        return None if found["StackStatus"] == "DELETE_COMPLETE" else found

    def settle(self, stack: str) -> dict[str, Any] | None:
        """The stack once no operation is in progress on it (None when there is no stack)."""
        while True:
            found = self.describe(stack)
            if found is None or not _busy(found["StackStatus"]):
                return found
            self._wait(f"stack {found['StackName']} is still {found['StackStatus']}")

    def finish(self, stack_id: str, succeeded: frozenset[str]) -> dict[str, Any]:
        """The stack once its operation ended in one of `succeeded`; StackFailed with the reason otherwise."""
        found = self.settle(stack_id)
        if found is None:
            raise StackFailed(f"stack {stack_id} disappeared while Conveyor waited for it")
        if found["StackStatus"] not in succeeded:
            raise StackFailed(f"stack {found['StackName']} is {found['StackStatus']}: {self.failure_reason(found)}")
        return found

    def create(self, name: str, request: StackRequest) -> Result:
        try:
            created = self.client.create_stack(StackName=name, **request.arguments())
        except ClientError as exc:
            raise _rejected(exc, request, name) from None
        stack = self.finish(created["StackId"], frozenset({"CREATE_COMPLETE"}))
        return Result(f"Stack {name} created: CREATE_COMPLETE", stack)

    def update(self, stack: dict[str, Any], request: StackRequest) -> Result:
        name = stack["StackName"]
        try:
            self.client.update_stack(StackName=stack["StackId"], **request.arguments())
        except ClientError as exc:
            if _code(exc) == "ValidationError" and no_changes(_message(exc)):
                return Result(f"Stack {name}: no updates to perform ({stack['StackStatus']})", stack)
            raise _rejected(exc, request, name) from None
        updated = self.finish(stack["StackId"], frozenset({"UPDATE_COMPLETE"}))
        return Result(f"Stack {name} updated: UPDATE_COMPLETE", updated)

    def delete(self, stack: dict[str, Any], role_arn: str | None) -> None:
        """Delete the stack and wait until it is gone."""
        self.client.delete_stack(StackName=stack["StackId"], **({"RoleARN": role_arn} if role_arn else {}))
        gone = self.settle(stack["StackId"])
        if gone is not None:
            reason = self.failure_reason(gone)
            raise StackFailed(f"stack {stack['StackName']} could not be deleted: {gone['StackStatus']}: {reason}")

    def failure_reason(self, stack: dict[str, Any]) -> str:
        """The reason of the first failed event of the stack's latest operation (or the stack's own reason)."""
        fallback = stack.get("StackStatusReason") or "no reason given"
        try:
            failed = _first_failure(self.client, stack["StackId"])
        except ClientError:  # no permission to read events: CodePipeline then shows a generic message too
            return fallback
        if failed is None:
            return fallback
        resource = f"{failed['LogicalResourceId']} ({failed.get('ResourceType', 'resource')})"
        return f"{resource} {failed['ResourceStatus']}: {failed.get('ResourceStatusReason') or 'no reason given'}"

    def change_set(self, stack: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.client.describe_change_set(StackName=stack, ChangeSetName=name)
        except ClientError as exc:
            if _code(exc) in _MISSING_CHANGE_SET:
                return None
            raise
        return found

    def settle_change_set(self, stack: str, name: str) -> dict[str, Any] | None:
        while True:
            found = self.change_set(stack, name)
            if found is None or found["Status"] not in _CHANGE_SET_BUSY:
                return found
            self._wait(f"change set {name} of stack {stack} is still {found['Status']}")

    def replace_change_set(self, stack_name: str, name: str, request: StackRequest) -> Result:
        """Make the change set anew (deleting one of that name first) and leave it unexecuted."""
        stack = self.settle(stack_name)
        if stack is not None and self.change_set(stack["StackId"], name) is not None:
            self.client.delete_change_set(StackName=stack["StackId"], ChangeSetName=name)
            while self.change_set(stack["StackId"], name) is not None:
                self._wait(f"change set {name} of stack {stack_name} is still being deleted")
        creates = stack is None or stack["StackStatus"] == REVIEW_IN_PROGRESS
        try:
            made = self.client.create_change_set(
                StackName=stack_name,
                ChangeSetName=name,
                ChangeSetType="CREATE" if creates else "UPDATE",
                **request.arguments(change_set=True),
            )
        except ClientError as exc:
            if _code(exc) == "ValidationError" and no_changes(_message(exc)):
                return Result(f"Change set {name} of stack {stack_name}: no changes to make", stack)
            raise _rejected(exc, request, stack_name) from None
        change_set = self.settle_change_set(made["StackId"], made["Id"])
        if change_set is None:
            raise StackFailed(f"change set {name} of stack {stack_name} disappeared while Conveyor waited for it")
        if change_set["Status"] == "FAILED":
            reason = change_set.get("StatusReason") or "no reason given"
            if no_changes(reason):
                return Result(f"Change set {name} of stack {stack_name}: no changes to make", stack)
            raise StackFailed(f"change set {name} of stack {stack_name} FAILED: {reason}")
        count = len(change_set.get("Changes") or [])
        return Result(f"Change set {name} of stack {stack_name} is ready: {count} change(s), not executed", stack)

    def execute_change_set(self, stack_name: str, name: str) -> Result:
        """Execute the change set and wait for the stack; a change set with no changes leaves the stack as it is."""
        stack = self.settle(stack_name)
        change_set = self.settle_change_set(stack["StackId"], name) if stack is not None else None
        if stack is None or change_set is None:
            raise StackFailed(
                f"stack {stack_name} has no change set {name}: create it first (ActionMode CHANGE_SET_REPLACE)"
            )
        reason = change_set.get("StatusReason") or ""
        if change_set["Status"] == "FAILED" and no_changes(reason):
            return Result(f"Change set {name} has no changes: stack {stack_name} stays {stack['StackStatus']}", stack)
        if change_set.get("ExecutionStatus") != "AVAILABLE":
            state = f"{change_set['Status']}, execution {change_set.get('ExecutionStatus', 'UNAVAILABLE')}"
            raise StackFailed(
                f"change set {name} of stack {stack_name} cannot be executed ({state}){': ' + reason if reason else ''}"
            )
        self.client.execute_change_set(StackName=stack["StackId"], ChangeSetName=change_set["ChangeSetId"])
        done = self.finish(stack["StackId"], frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}))
        return Result(f"Change set {name} executed: stack {stack_name} {done['StackStatus']}", done)

    def _wait(self, what: str) -> None:
        if self.clock() + self.poll_seconds > self.deadline:
            raise StackFailed(f"{what}: Conveyor stopped waiting (CloudFormation carries on with it)")
        self.sleep(self.poll_seconds)


def _busy(status: str) -> bool:
    return status.endswith("_IN_PROGRESS") and status != REVIEW_IN_PROGRESS


def _first_failure(client: Any, stack_id: str) -> dict[str, Any] | None:
    """The oldest failed event since the stack's latest operation began (events come newest first)."""
    failures: list[dict[str, Any]] = []
    for page in client.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page["StackEvents"]:
            if event["ResourceStatus"].endswith("_FAILED"):
                failures.append(event)
            started = event.get("ResourceStatusReason") == "User Initiated" and event["PhysicalResourceId"] == stack_id
            if started:
                return failures[-1] if failures else None
    return failures[-1] if failures else None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))


def _rejected(exc: ClientError, request: StackRequest, stack: str) -> Exception:
    """CloudFormation's refusal of a template (or of what goes with it) as the action's failure."""
    if _code(exc) in ("ValidationError", "InsufficientCapabilitiesException", "AlreadyExistsException"):
        return StackFailed(
            f"CloudFormation refused template {request.template_location} for stack {stack}: {_message(exc)}"
        )
    return exc
