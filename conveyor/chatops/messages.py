"""Replies to chat as Slack message payloads: text for notifications and old clients, Block Kit blocks for the
message itself, and buttons that carry a command back. Pure.

A button's `value` is the command line it stands for (`approve web Deploy Gate`), quoted as a shell would, so a
press goes through the same parsing, roles and audit as the typed command; its `action_id` is the verb. A
press's own reply replaces nothing: it is a new message saying who pressed what.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT = 3000  # a section block's text limit


@dataclass(frozen=True)
class Reply:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    in_channel: bool = False  # seen by the channel (what changed something); else only by the sender

    def payload(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "response_type": "in_channel" if self.in_channel else "ephemeral",
            "text": self.text[:MAX_TEXT],
        }
        if self.blocks:
            message["blocks"] = self.blocks
        return message


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:MAX_TEXT]}}


def button(label: str, verb: str, *words: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": f"conveyor-{verb}-" + "-".join(words)[:200],  # unique within a message, as Slack wants
        "value": shlex.join([verb, *words]),
    }
    if style:
        element["style"] = style
    return element


def buttons(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "actions", "elements": list(elements)}


def message(text: str, *extra_blocks: dict[str, Any], in_channel: bool = False) -> Reply:
    """A reply of one section holding `text`, then `extra_blocks` (buttons)."""
    return Reply(text, [section(text), *extra_blocks], in_channel)


def approval_buttons(pipeline: str, stage: str, action: str) -> dict[str, Any]:
    return buttons(
        button("Approve", "approve", pipeline, stage, action, style="primary"),
        button("Reject", "reject", pipeline, stage, action, style="danger"),
    )


def rollback_button(application: str, group: str) -> dict[str, Any]:
    return buttons(button("Roll back", "rollback", application, group, style="danger"))
