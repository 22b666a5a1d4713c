"""CloudFormation stacks for tests: templates, and stack states moto never reaches by itself.

moto completes every stack operation at once and never rolls one back, so a failed or busy stack is set on its
backend here, with the events CloudFormation would have written.
"""

from __future__ import annotations

from typing import Any

import pytest
from moto.cloudformation.models import ChangeSet, Event, cloudformation_backends
from moto.core import DEFAULT_ACCOUNT_ID

from tests.conftest import AWS_REGION

BUCKET_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: a site bucket
Parameters:
  Environment:
    Type: String
  Release:
    Type: String
    Default: none
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "conveyor-${Environment}-site"
Outputs:
  BucketName:
    Value: !Ref Bucket
  Release:
    Value: !Ref Release
"""


def moto_stack(name: str) -> Any:
    return cloudformation_backends[DEFAULT_ACCOUNT_ID][AWS_REGION].get_stack(name)


def set_stack_state(
    name: str, status: str, failures: tuple[tuple[str, str, str], ...] = (), operation: str = "CREATE"
) -> None:
    """Put the stack in `status` after an operation whose resources `(logical id, type, reason)` failed."""
    stack = moto_stack(name)
    stack._add_stack_event(f"{operation}_IN_PROGRESS", resource_status_reason="User Initiated")
    for logical_id, resource_type, reason in failures:
        stack.events.append(
            Event(
                stack_id=stack.stack_id,
                stack_name=stack.name,
                logical_resource_id=logical_id,
                physical_resource_id=f"{logical_id.lower()}-1",
                resource_type=resource_type,
                resource_status=f"{operation}_FAILED",
                resource_status_reason=reason,
                resource_properties=None,
            )
        )
    if status != f"{operation}_IN_PROGRESS":
        stack._add_stack_event(status)
    stack.status = status


def recompute_outputs_on_execution(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto recompute a stack's Outputs when a change set is executed, as CloudFormation does.

    moto applies the change set's resources and parameters but leaves the template and Outputs the stack had
    before (none at all for a stack a change set created).
    """
    apply = ChangeSet.apply

    def apply_and_recompute(change_set: Any) -> None:
        apply(change_set)
        stack = change_set.stack
        stack.template = change_set.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    monkeypatch.setattr(ChangeSet, "apply", apply_and_recompute)
