"""Chat command jobs: carry out a command that arrived from Slack and answer in chat."""

from __future__ import annotations

from conveyor.chatops import service as chat
from jobs.runtime import run_dispatch


def carry_out(dispatch_id: str, attempt: int) -> None:
    run_dispatch(dispatch_id, attempt, lambda rt, command_id, _lease: chat.carry_out(rt, command_id))
