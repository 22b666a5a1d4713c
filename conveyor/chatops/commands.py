"""The command language of chat: `/conveyor <verb> <arguments…>`, parsed into a `Command` or refused with usage. Pure.

Words are split as a shell would (quotes keep spaces: `approve web Deploy "Prod gate" "looks good"`). Each verb
takes the arguments its usage line shows; a missing or extra argument, an unknown verb, or a malformed one (an
unclosed quote, `K=V` without a key) raises `UsageError` whose message is the usage text to show, never a trace.

Decisions where nothing is prescribed:

* `run <pipeline> [branch|sha] [K=V …]`: a word of 7 to 40 hexadecimal digits is a commit; any other word without
  `=` is a branch, whose head commit is looked up when the command runs; words with `=` are variable overrides.
* `stop <execution> [abandon]`: stop and wait by default, as CodePipeline's console does; `abandon` abandons the
  actions in progress.
* `deploy <application> <group> [revision]`: the revision is an earlier deployment id (`d-…`: its revision again)
  or an S3 URL (`s3://bucket/key.zip`); without one, the group's current revision is deployed again.
* `schedules` alone lists; `schedules pause|resume|run <name>` acts on one schedule.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum


class Verb(str, Enum):
    HELP = "help"
    STATUS = "status"
    RUN = "run"
    DEPLOY = "deploy"
    APPROVE = "approve"
    REJECT = "reject"
    ROLLBACK = "rollback"
    STOP = "stop"
    BUILDS = "builds"
    SCHEDULES = "schedules"


USAGE = {
    Verb.HELP: "help",
    Verb.STATUS: "status [pipeline]",
    Verb.RUN: "run <pipeline> [branch|sha] [NAME=VALUE …]",
    Verb.DEPLOY: "deploy <application> <deployment-group> [d-DEPLOYMENTID|s3://bucket/key]",
    Verb.APPROVE: "approve <pipeline> <stage> <action> [summary]",
    Verb.REJECT: "reject <pipeline> <stage> <action> [summary]",
    Verb.ROLLBACK: "rollback <application> <deployment-group>",
    Verb.STOP: "stop <execution-id> [abandon]",
    Verb.BUILDS: "builds <project>",
    Verb.SCHEDULES: "schedules [list | pause <name> | resume <name> | run <name>]",
}
SCHEDULE_ACTIONS = ("list", "pause", "resume", "run")
_COMMIT = re.compile(r"[0-9a-fA-F]{7,40}\Z")
_VARIABLE = re.compile(r"([A-Za-z0-9@\-_]+)=(.*)\Z", re.DOTALL)


Parser = Callable[[Verb, list[str]], "Command"]


class UsageError(ValueError):
    """A command that cannot be understood; the message says what is wrong and how to write it."""


@dataclass(frozen=True)
class Command:
    verb: Verb
    args: tuple[str, ...] = ()  # the positional arguments, as the verb's usage names them
    variables: dict[str, str] = field(default_factory=dict)  # run: NAME=VALUE overrides
    rest: str = ""  # approve/reject: the summary; run: the branch or commit; stop: "abandon"


def usage_text(prefix: str = "/conveyor") -> str:
    return "Usage:\n" + "\n".join(f"`{prefix} {line}`" for line in USAGE.values())


def parse(text: str) -> Command:
    """The command `text` asks for (what follows the slash command)."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"cannot read the command: {exc}") from None
    if not words:
        return Command(Verb.HELP)
    name, args = words[0].lower(), words[1:]
    try:
        verb = Verb(name)
    except ValueError:
        raise UsageError(f"unknown command {words[0]!r}") from None
    return _PARSERS[verb](verb, args)


def _exactly(verb: Verb, args: list[str], least: int, most: int) -> None:
    if not least <= len(args) <= most:
        said = "too few" if len(args) < least else "too many"
        raise UsageError(f"{said} arguments for {verb.value}: `{USAGE[verb]}`")


def _plain(least: int, most: int) -> Parser:
    def parse_plain(verb: Verb, args: list[str]) -> Command:
        _exactly(verb, args, least, most)
        return Command(verb, tuple(args))

    return parse_plain


def _run(verb: Verb, args: list[str]) -> Command:
    if not args or "=" in args[0]:
        raise UsageError(f"run needs a pipeline name first: `{USAGE[verb]}`")
    pipeline, rest = args[0], args[1:]
    revision = ""
    if rest and "=" not in rest[0]:
        revision, rest = rest[0], rest[1:]
    variables: dict[str, str] = {}
    for word in rest:
        match = _VARIABLE.match(word)
        if match is None:
            raise UsageError(f"{word!r} is not NAME=VALUE (names are letters, digits, @ - _): `{USAGE[verb]}`")
        variables[match.group(1)] = match.group(2)
    return Command(verb, (pipeline,), variables, revision)


def _answer(verb: Verb, args: list[str]) -> Command:
    if len(args) < 3:
        raise UsageError(f"too few arguments for {verb.value}: `{USAGE[verb]}`")
    return Command(verb, tuple(args[:3]), rest=" ".join(args[3:]))


def _stop(verb: Verb, args: list[str]) -> Command:
    _exactly(verb, args, 1, 2)
    if len(args) == 2 and args[1].lower() != "abandon":
        raise UsageError(f"stop takes `abandon` or nothing after the execution id: `{USAGE[verb]}`")
    return Command(verb, (args[0],), rest="abandon" if len(args) == 2 else "")


def _schedules(verb: Verb, args: list[str]) -> Command:
    if not args:
        return Command(verb, ("list",))
    action = args[0].lower()
    if action not in SCHEDULE_ACTIONS:
        raise UsageError(f"unknown schedules action {args[0]!r}: `{USAGE[verb]}`")
    if action == "list":
        _exactly(verb, args, 1, 1)
    else:
        _exactly(verb, args, 2, 2)
    return Command(verb, (action, *args[1:]))


def is_commit(revision: str) -> bool:
    return bool(_COMMIT.match(revision))


_PARSERS: dict[Verb, Parser] = {
    Verb.HELP: _plain(0, 0),
    Verb.STATUS: _plain(0, 1),
    Verb.RUN: _run,
    Verb.DEPLOY: _plain(2, 3),
    Verb.APPROVE: _answer,
    Verb.REJECT: _answer,
    Verb.ROLLBACK: _plain(2, 2),
    Verb.STOP: _stop,
    Verb.BUILDS: _plain(1, 1),
    Verb.SCHEDULES: _schedules,
}
