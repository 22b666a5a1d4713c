"""The chat command language and who may use it: every verb's arguments, usage for everything malformed, roles."""

from __future__ import annotations

import pytest

from conveyor.chatops.commands import USAGE, Command, UsageError, Verb, parse, usage_text
from conveyor.chatops.roles import Role, RoleMap, refusal, required_role
from conveyor.errors import ConfigurationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Command(Verb.HELP)),
        ("  help ", Command(Verb.HELP)),
        ("HELP", Command(Verb.HELP)),
        ("status", Command(Verb.STATUS)),
        ("status web", Command(Verb.STATUS, ("web",))),
        ("run web", Command(Verb.RUN, ("web",))),
        ("run web main", Command(Verb.RUN, ("web",), rest="main")),
        ("run web 0a1b2c3", Command(Verb.RUN, ("web",), rest="0a1b2c3")),
        (
            "run web release/2.1 ENV=prod 'NOTE=two words'",
            Command(Verb.RUN, ("web",), {"ENV": "prod", "NOTE": "two words"}, "release/2.1"),
        ),
        ("run web ENV=prod EMPTY=", Command(Verb.RUN, ("web",), {"ENV": "prod", "EMPTY": ""})),
        ("deploy shop prod", Command(Verb.DEPLOY, ("shop", "prod"))),
        ("deploy shop prod d-ABCDEFGHJ", Command(Verb.DEPLOY, ("shop", "prod", "d-ABCDEFGHJ"))),
        ("approve web Deploy Gate", Command(Verb.APPROVE, ("web", "Deploy", "Gate"))),
        (
            'reject web Deploy "Prod gate" not today, sorry',
            Command(Verb.REJECT, ("web", "Deploy", "Prod gate"), rest="not today, sorry"),
        ),
        ("rollback shop prod", Command(Verb.ROLLBACK, ("shop", "prod"))),
        ("stop 5c1c7e0e-1111", Command(Verb.STOP, ("5c1c7e0e-1111",))),
        ("stop 5c1c7e0e-1111 ABANDON", Command(Verb.STOP, ("5c1c7e0e-1111",), rest="abandon")),
        ("builds api", Command(Verb.BUILDS, ("api",))),
        ("schedules", Command(Verb.SCHEDULES, ("list",))),
        ("schedules list", Command(Verb.SCHEDULES, ("list",))),
        ("schedules pause nightly", Command(Verb.SCHEDULES, ("pause", "nightly"))),
        ("schedules RUN nightly", Command(Verb.SCHEDULES, ("run", "nightly"))),
    ],
)
def test_commands_parse(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("launch web", "unknown command 'launch'"),
        ("status web extra", "too many arguments for status"),
        ("run", "run needs a pipeline name first"),
        ("run ENV=prod", "run needs a pipeline name first"),
        ("run web main =prod", "'=prod' is not NAME=VALUE"),
        ("run web main notavariable", "'notavariable' is not NAME=VALUE"),
        ("deploy shop", "too few arguments for deploy"),
        ("deploy shop prod d-1 d-2", "too many arguments for deploy"),
        ("approve web Deploy", "too few arguments for approve"),
        ("rollback shop", "too few arguments for rollback"),
        ("stop", "too few arguments for stop"),
        ("stop abc now", "stop takes `abandon` or nothing"),
        ("builds", "too few arguments for builds"),
        ("schedules delete nightly", "unknown schedules action 'delete'"),
        ("schedules pause", "too few arguments for schedules"),
        ("schedules list extra", "too many arguments for schedules"),
        ('approve web "Deploy Gate', "cannot read the command: No closing quotation"),
        ("help me", "too many arguments for help"),
    ],
)
def test_malformed_commands_get_usage(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(text)
    assert message in str(caught.value)


def test_usage_text_shows_every_verb() -> None:
    text = usage_text()
    for verb in Verb:
        assert f"`/conveyor {USAGE[verb]}`" in text


ROLES = RoleMap.parse(["T1/U_ADMIN=deployer", "T1/*=viewer", "T1/U_OPS=operator", "T2/U_OPS=viewer"])


@pytest.mark.parametrize(
    ("team", "user", "role"),
    [
        ("T1", "U_ADMIN", Role.DEPLOYER),
        ("T1", "U_OPS", Role.OPERATOR),  # the user's own entry beats the workspace's
        ("T1", "U_ANYONE", Role.VIEWER),
        ("T2", "U_OPS", Role.VIEWER),  # the same user id in another workspace is another user
        ("T2", "U_ANYONE", None),
        ("T3", "U_ADMIN", None),
    ],
)
def test_roles_by_workspace_and_user(team: str, user: str, role: Role | None) -> None:
    assert ROLES.role_of(team, user) == role


@pytest.mark.parametrize(
    ("text", "needed"),
    [
        ("help", None),
        ("status", Role.VIEWER),
        ("builds api", Role.VIEWER),
        ("schedules", Role.VIEWER),
        ("schedules run nightly", Role.OPERATOR),
        ("run web", Role.OPERATOR),
        ("stop x", Role.OPERATOR),
        ("approve a b c", Role.OPERATOR),
        ("reject a b c", Role.OPERATOR),
        ("deploy shop prod", Role.DEPLOYER),
        ("rollback shop prod", Role.DEPLOYER),
    ],
)
def test_what_each_command_needs(text: str, needed: Role | None) -> None:
    assert required_role(parse(text)) == needed


def test_refusals_say_why() -> None:
    deploy = parse("deploy shop prod")
    assert refusal(deploy, Role.DEPLOYER, "T1", "U1") is None
    assert refusal(deploy, Role.OPERATOR, "T1", "U1") == "`deploy` needs the deployer role; you are operator"
    unknown = refusal(deploy, None, "T9", "U9")
    assert unknown is not None
    assert "no Conveyor role in workspace T9" in unknown
    assert "T9/U9" in unknown
    assert refusal(parse("help"), None, "T9", "U9") is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("T1-U1=viewer", "is not TEAM/USER=ROLE"),
        ("T1/U1", "is not TEAM/USER=ROLE"),
        ("t1/u1=viewer", "is not TEAM/USER=ROLE"),
        ("T1/U1=root", "names role 'root'; roles are viewer, operator, deployer"),
    ],
)
def test_bad_role_entries_are_configuration_errors(entry: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        RoleMap.parse([entry])
