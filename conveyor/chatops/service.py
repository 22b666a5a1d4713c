"""Chat commands from arrival to answer: `receive` acknowledges within Slack's three seconds, a job carries it out.

`receive` (in the request) parses the command, looks up the sender's role and records the command in the audit
log (`chat_commands`) in one short transaction shared with concurrent arrivals (`CommitGroup`), with a dispatch of
its job when there is work to do. It answers at once with the acknowledgement to show the sender:

* usage text, for `help`, an empty command, or a command that cannot be understood (status `answered`);
* the reason, for a command the sender's role does not allow (status `refused`);
* "working on it", for everything else (status `accepted`), carried out by `carry_out` in a job.

A button press shows nothing of the answer to its request, so a press's usage text or refusal is posted to its
`response_url` by a job as well.

`carry_out` runs the command through the services (`conveyor.chatops.actions`), posts the reply to the command's
`response_url`, and records the outcome (`done` or `failed`, with what was said). A command is carried out at
most once: its job has a single attempt (a lost job is recorded `failed` by the reconciler, not run again, so a
`run` or `deploy` never happens twice), and a job finding its command no longer `accepted` does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from conveyor.chatops import actions
from conveyor.chatops.actions import Sender
from conveyor.chatops.commands import Command, UsageError, Verb, parse, usage_text
from conveyor.chatops.messages import Reply, message
from conveyor.chatops.replies import ReplyFailed, post
from conveyor.chatops.roles import Role, RoleMap, refusal
from conveyor.db import lock
from conveyor.db.chat_models import ChatCommand
from conveyor.db.models import utcnow
from conveyor.dispatch import Kind, Outbox
from conveyor.errors import ConveyorError
from conveyor.ids import new_id
from conveyor.queues import DEFAULT_QUEUE
from conveyor.runtime import Runtime
from conveyor.timefmt import iso

log = logging.getLogger(__name__)
JOB_TIMEOUT_SECONDS = 600
SLASH, BUTTON = "slash", "button"
_DETAIL_LIMIT = 2000


class CommandStatus(str, Enum):
    ANSWERED = "answered"  # answered in the acknowledgement: help or usage
    REFUSED = "refused"  # the sender's role does not allow it
    ACCEPTED = "accepted"  # waiting for its job
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ChatRequest:
    """A slash command or a button press, as the handler read it from Slack's request."""

    source: str  # slash | button
    team_id: str
    user_id: str
    text: str
    user_name: str | None = None
    channel_id: str | None = None
    response_url: str | None = None

    @property
    def sender(self) -> Sender:
        return Sender(self.team_id, self.user_id, self.user_name)


@lru_cache(maxsize=8)
def role_map(entries: tuple[str, ...]) -> RoleMap:
    return RoleMap.parse(entries)


def receive(rt: Runtime, request: ChatRequest) -> Reply:
    """Record `request` and say what to acknowledge it with (see the module's contract)."""
    role = role_map(rt.settings.slack_roles).role_of(request.team_id, request.user_id)
    command: Command | None = None
    try:
        command = parse(request.text)
    except UsageError as exc:
        status, ack = CommandStatus.ANSWERED, Reply(f"{exc}\n\n{usage_text()}")
    else:
        status, ack = _decide(command, role, request)
    values = {
        "id": new_id(),
        "source": request.source,
        "team_id": request.team_id,
        "user_id": request.user_id,
        "user_name": request.user_name,
        "channel_id": request.channel_id,
        "text": request.text,
        "verb": command.verb.value if command else None,
        "role": role.label if role else None,
        "status": status.value,
        "detail": None if status is CommandStatus.ACCEPTED else ack.text[:_DETAIL_LIMIT],
        "response_url": request.response_url,
        "replies_sent": 0,
        "created_at": utcnow(),
        "finished_at": None if status is CommandStatus.ACCEPTED else utcnow(),
    }
    rt.commit_group.run(record_commands, values)
    return ack


def _decide(command: Command, role: Role | None, request: ChatRequest) -> tuple[CommandStatus, Reply]:
    if command.verb is Verb.HELP:
        said = f"You are {role.label}." if role else "You have no Conveyor role yet."
        return CommandStatus.ANSWERED, Reply(f"{usage_text()}\n\n{said}")
    refused = refusal(command, role, request.team_id, request.user_id)
    if refused is not None:
        return CommandStatus.REFUSED, Reply(f"Refused: {refused}")
    return CommandStatus.ACCEPTED, Reply(f"Working on `{request.text.strip()}`…")


_INSERT = insert(cast(Table, ChatCommand.__table__))  # prebuilt: this is on the acknowledgement's path


def record_commands(session: Session, outbox: Outbox, commands: list[dict[str, Any]]) -> list[None]:
    """Write the audit rows of commands received together with one statement, and a job for each one that needs
    work (an accepted command, or any button press)."""
    session.connection().execute(_INSERT, commands)
    working = [
        values["id"]
        for values in commands
        if values["status"] == CommandStatus.ACCEPTED.value or values["source"] == BUTTON
    ]
    outbox.add_many(Kind.CHAT_COMMAND, working, DEFAULT_QUEUE, JOB_TIMEOUT_SECONDS)
    return [None] * len(commands)


def carry_out(rt: Runtime, command_id: str) -> None:
    """Run an accepted command, reply to its sender, and record the outcome (see the module's contract)."""
    with rt.db.reader() as session:
        row = session.get(ChatCommand, command_id)
        if row is None:
            return
        text, sender = row.text, Sender(row.team_id, row.user_id, row.user_name)
        response_url, replies_sent, status = row.response_url, row.replies_sent, CommandStatus(row.status)
        unanswered_press = row.source == BUTTON and replies_sent == 0 and bool(row.detail)
        said = row.detail or ""
    if status is not CommandStatus.ACCEPTED:
        if unanswered_press and response_url:
            _reply_only(rt, command_id, response_url, Reply(said))
        return
    status, reply = _outcome(rt, command_id, text, sender)
    detail = reply.text
    if response_url:  # posted before the outcome is recorded: no transaction waits on Slack
        try:
            post(response_url, reply, replies_sent)
            replies_sent += 1
        except ReplyFailed as exc:
            log.warning("the reply to chat command %s was not delivered: %s", command_id, exc)
            detail += f"\n(reply not delivered: {exc})"
    with rt.db.session() as session:
        recorded = lock(session, ChatCommand, command_id)
        assert recorded is not None
        recorded.status, recorded.detail, recorded.finished_at = status.value, detail[:_DETAIL_LIMIT], utcnow()
        recorded.replies_sent = replies_sent


def _reply_only(rt: Runtime, command_id: str, response_url: str, reply: Reply) -> None:
    """A button press answered without a job's work (a refusal, usage): its answer goes where a press's replies go."""
    try:
        post(response_url, reply, 0)
    except ReplyFailed as exc:
        log.warning("the reply to chat command %s was not delivered: %s", command_id, exc)
        return
    with rt.db.session() as session:
        recorded = lock(session, ChatCommand, command_id)
        assert recorded is not None
        recorded.replies_sent += 1


def _outcome(rt: Runtime, command_id: str, text: str, sender: Sender) -> tuple[CommandStatus, Reply]:
    try:
        return CommandStatus.DONE, actions.carry_out(rt, parse(text), sender)
    except ConveyorError as exc:
        return CommandStatus.FAILED, message(f"Could not do `{text.strip()}`: {exc}")
    except UsageError as exc:  # the text parsed when it arrived; a newer Conveyor may read it differently
        return CommandStatus.FAILED, message(f"{exc}\n\n{usage_text()}")
    except Exception:  # the sender gets an answer either way; the log keeps the trace
        log.exception("chat command %s failed", command_id)
        return CommandStatus.FAILED, message(f"Conveyor failed on `{text.strip()}`; its log names command {command_id}")


def give_up(rt: Runtime, command_id: str, reason: str) -> None:
    """The command's job was lost: record it failed; it is not run again (see the module's contract)."""
    with rt.db.session() as session:
        row = lock(session, ChatCommand, command_id)
        if row is not None and row.status == CommandStatus.ACCEPTED.value:
            row.status, row.detail, row.finished_at = CommandStatus.FAILED.value, reason[:_DETAIL_LIMIT], utcnow()


def list_commands(rt: Runtime, limit: int = 50, user_id: str | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first (response URLs are never shown)."""
    with rt.db.reader() as session:
        query = select(ChatCommand).order_by(ChatCommand.created_at.desc()).limit(limit)
        if user_id:
            query = query.where(ChatCommand.user_id == user_id)
        return [_described(row) for row in session.scalars(query)]


def _described(row: ChatCommand) -> dict[str, Any]:
    return {
        "id": row.id,
        "source": row.source,
        "teamId": row.team_id,
        "userId": row.user_id,
        "userName": row.user_name,
        "channelId": row.channel_id,
        "text": row.text,
        "verb": row.verb,
        "role": row.role,
        "status": row.status,
        "detail": row.detail,
        "repliesSent": row.replies_sent,
        "createdAt": iso(row.created_at),
        "finishedAt": iso(row.finished_at),
    }
