"""Who may do what from chat: Slack workspace (team) and user ids mapped to Conveyor roles. Pure.

The mapping is the `slack_roles` setting, a list of `TEAM/USER=ROLE` entries, `*` standing for every user of a
workspace: `["T0123/U0456=deployer", "T0123/*=viewer"]`. A user's own entry beats their workspace's `*` entry; a
user of a workspace with neither has no role, and may only ask for `help`.

Roles are ordered, each allowing what the ones before it allow:

* `viewer`: help, status, builds, schedules list;
* `operator`: run, stop, approve, reject, schedules pause|resume|run;
* `deployer`: deploy, rollback.

A bad entry in the setting is a configuration error naming the entry, raised when the mapping is read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from conveyor.chatops.commands import Command, Verb
from conveyor.errors import ConfigurationError

_ENTRY = re.compile(r"\s*([A-Z0-9][A-Z0-9_]*)/(\*|[A-Z0-9][A-Z0-9_]*)\s*=\s*([a-z]+)\s*\Z")


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    DEPLOYER = 3

    @property
    def label(self) -> str:
        return self.name.lower()


_NEEDS = {
    Verb.HELP: None,
    Verb.STATUS: Role.VIEWER,
    Verb.BUILDS: Role.VIEWER,
    Verb.RUN: Role.OPERATOR,
    Verb.STOP: Role.OPERATOR,
    Verb.APPROVE: Role.OPERATOR,
    Verb.REJECT: Role.OPERATOR,
    Verb.DEPLOY: Role.DEPLOYER,
    Verb.ROLLBACK: Role.DEPLOYER,
}


def required_role(command: Command) -> Role | None:
    """The least role that may run `command` (None: anyone whose request is signed)."""
    if command.verb is Verb.SCHEDULES:
        return Role.VIEWER if command.args[0] == "list" else Role.OPERATOR
    return _NEEDS[command.verb]


@dataclass(frozen=True)
class RoleMap:
    users: dict[tuple[str, str], Role]  # (team, user or "*") → role

    @classmethod
    def parse(cls, entries: Iterable[str]) -> RoleMap:
        users: dict[tuple[str, str], Role] = {}
        for entry in entries:
            match = _ENTRY.match(entry)
            if match is None:
                raise ConfigurationError(
                    f"slack_roles: {entry!r} is not TEAM/USER=ROLE (Slack ids such as T0123/U0456, or T0123/* for "
                    "every user of a workspace)"
                )
            team, user, name = match.groups()
            try:
                users[(team, user)] = Role[name.upper()]
            except KeyError:
                known = ", ".join(r.label for r in Role)
                raise ConfigurationError(f"slack_roles: {entry!r} names role {name!r}; roles are {known}") from None
        return cls(users)

    def role_of(self, team: str, user: str) -> Role | None:
        return self.users.get((team, user)) or self.users.get((team, "*"))


def refusal(command: Command, role: Role | None, team: str, user: str) -> str | None:
    """Why `user` may not run `command` (None when they may)."""
    needed = required_role(command)
    if needed is None or (role is not None and role >= needed):
        return None
    if role is None:
        return (
            f"you have no Conveyor role in workspace {team}: ask an administrator to add {team}/{user} to "
            f"slack_roles (`{command.verb.value}` needs {needed.label})"
        )
    return f"`{command.verb.value}` needs the {needed.label} role; you are {role.label}"
