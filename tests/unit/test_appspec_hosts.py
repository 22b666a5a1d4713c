"""Host AppSpecs (EC2/on-premises): what the agent accepts, and every problem reported at once with path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.deploy.appspec import ComputePlatform, HostAppSpec, parse_appspec
from conveyor.deploy.appspec_hosts import FileMapping, HookScript
from conveyor.deploy.appspec_permissions import Permission, SELinuxContext
from conveyor.errors import SpecError

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "appspec"
MINIMAL = "version: 0.0\nos: linux\n"


def host(text: str) -> HostAppSpec:
    spec = parse_appspec(text)
    assert isinstance(spec, HostAppSpec)
    return spec


def problems_of(text: str, platform: ComputePlatform | None = None) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SpecError) as caught:
        parse_appspec(text, platform=platform)
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def only_problem(text: str) -> tuple[str, int | None, str]:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


def with_hooks(body: str) -> str:
    return MINIMAL + "hooks:\n" + body


# -- valid files ----------------------------------------------------------------------------------------------------


def test_a_full_linux_appspec_is_read_completely() -> None:
    spec = host((CORPUS / "host-linux.yml").read_text())

    assert (spec.version, spec.os, spec.file_exists_behavior) == ("0.0", "linux", "OVERWRITE")
    assert spec.files == (
        FileMapping("/build/site", "/srv/shop/site"),
        FileMapping("config/shop.conf", "/etc/shop"),
    )
    assert spec.permissions == (
        Permission("/srv/shop/site", owner="shop", group="www-data", mode="750", types=("directory",)),
        Permission(
            "/srv/shop/site/bin",
            pattern="*.sh",
            excepts=("debug.sh",),
            mode="0755",
            acls=("u:deployer:rwx", "d:g:ops:r-x"),
            context=SELinuxContext("httpd_sys_content_t", "system_u", "s0-s0:c0.c4,c9"),
            types=("file",),
        ),
    )
    assert spec.scripts("BeforeInstall") == (
        HookScript("deploy/backup.sh"),
        HookScript("deploy/decrypt-secrets.sh", 120, "shop"),
    )
    assert spec.scripts("ValidateService") == (HookScript("deploy/smoke-test.sh", 3600),)
    assert spec.scripts("BeforeAllowTraffic") == ()
    assert spec.notes == ()


def test_hooks_come_back_in_the_order_events_run_whatever_the_file_order() -> None:
    spec = host(
        with_hooks(
            "  ValidateService: [{location: v.sh}]\n"
            "  ApplicationStart: [{location: s.sh}]\n"
            "  AfterBlockTraffic: [{location: a.sh}]\n"
            "  ApplicationStop: [{location: p.sh}]\n"
            "  BeforeBlockTraffic: [{location: b.sh}]\n"
        )
    )

    assert list(spec.hooks) == [
        "BeforeBlockTraffic",
        "AfterBlockTraffic",
        "ApplicationStop",
        "ApplicationStart",
        "ValidateService",
    ]
    assert spec.hook_count == 5


def test_scripts_of_one_event_keep_the_order_they_are_listed_in() -> None:
    spec = host(with_hooks("  AfterInstall:\n    - location: z.sh\n    - location: a.sh\n    - location: m.sh\n"))

    assert [s.location for s in spec.scripts("AfterInstall")] == ["z.sh", "a.sh", "m.sh"]


def test_a_windows_appspec_with_a_bom_and_crlf_line_endings() -> None:
    raw = (CORPUS / "host-windows-crlf-bom.yml").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw

    spec = host(raw.decode("utf-8"))

    assert spec.os == "windows"
    assert spec.files == (FileMapping("\\web", "C:\\inetpub\\wwwroot"),)  # no stray \r
    assert spec.file_exists_behavior == "RETAIN"
    assert spec.scripts("BeforeInstall") == (HookScript(".\\scripts\\stop-site.ps1", 300),)


def test_a_file_without_a_final_newline_and_an_event_with_nothing_under_it() -> None:
    spec = host(with_hooks("  ApplicationStop:\n  ApplicationStart:\n    - location: start.sh"))

    assert spec.hooks == {"ApplicationStart": (HookScript("start.sh"),)}


def test_json_is_read_too() -> None:
    spec = host('{"version": 0.0, "os": "linux", "hooks": {"AfterInstall": [{"location": "a.sh", "timeout": "90"}]}}')

    assert spec.scripts("AfterInstall") == (HookScript("a.sh", 90),)


@pytest.mark.parametrize("version", ["0.0", '"0.0"', "0"])
def test_the_version_may_be_the_number_or_the_string(version: str) -> None:
    assert host(f"version: {version}\nos: linux\n").version == "0.0"


def test_files_source_slash_is_the_whole_revision_and_defaults_are_empty() -> None:
    spec = host(MINIMAL + "files:\n  - source: /\n    destination: /opt/app\n")

    assert spec.files == (FileMapping("/", "/opt/app"),)
    assert (spec.permissions, spec.hooks, spec.file_exists_behavior) == ((), {}, None)


def test_a_permission_gets_the_agents_defaults() -> None:
    spec = host(MINIMAL + "permissions:\n  - object: /opt/app\n    owner: app\n")

    assert spec.permissions == (Permission("/opt/app", "**", (), "app", None, None, (), None, ("file", "directory")),)


@pytest.mark.parametrize(("written", "kept"), [("644", "644"), ('"0644"', "0644"), ("4755", "4755"), ("'7'", "7")])
def test_modes_are_kept_as_the_octal_digits_written(written: str, kept: str) -> None:
    spec = host(MINIMAL + f"permissions:\n  - object: /opt/app\n    mode: {written}\n")

    assert spec.permissions[0].mode == kept


@pytest.mark.parametrize("entry", ["u:bob:rw", "user:bob:7", "g:ops:r-x", "bob:r", "m::rx", "mask:rw", "d:u::rwx"])
def test_acl_entries_setfacl_accepts(entry: str) -> None:
    spec = host(MINIMAL + f"permissions:\n  - object: /opt/app\n    acls: ['{entry}']\n")

    assert spec.permissions[0].acls == (entry,)


def test_the_selinux_user_may_be_written_as_name_and_the_range_defaults_to_s0() -> None:
    spec = host(MINIMAL + "permissions:\n  - object: /opt/app\n    context:\n      name: staff_u\n      type: bin_t\n")

    assert spec.permissions[0].context == SELinuxContext("bin_t", "staff_u", "s0")


def test_sudo_the_agents_undocumented_flag_is_read() -> None:
    spec = host(with_hooks("  AfterInstall:\n    - location: a.sh\n      runas: app\n      sudo: true\n"))

    assert spec.scripts("AfterInstall") == (HookScript("a.sh", None, "app", sudo=True),)


def test_a_timeout_is_read_as_written_not_as_yaml_octal() -> None:
    spec = host(with_hooks("  AfterInstall:\n    - location: a.sh\n      timeout: 0300\n"))

    assert spec.scripts("AfterInstall")[0].timeout == 300


def test_timeouts_up_to_an_hour_in_total_for_one_event_are_fine() -> None:
    spec = host(
        with_hooks("  AfterInstall:\n    - {location: a.sh, timeout: 1800}\n    - {location: b.sh, timeout: 1800}\n")
    )

    assert [s.timeout for s in spec.scripts("AfterInstall")] == [1800, 1800]


# -- notes: accepted, without effect -----------------------------------------------------------------------------


def test_notes_list_what_is_accepted_but_does_nothing() -> None:
    text = (
        "version: 0.0\n"  # 1
        "os: windows\n"  # 2
        "files:\n"  # 3
        "  - source: app\n"  # 4
        "    destination: D:/apps\n"  # 5
        "    overwrite: true\n"  # 6
        "hooks:\n"  # 7
        "  ApplicationStart:\n"  # 8
        "    - location: start.ps1\n"  # 9
        "      runas: Administrator\n"  # 10
    )

    spec = host(text)

    assert [(n.path, n.line) for n in spec.notes] == [
        ("files[0].overwrite", 6),
        ("hooks.ApplicationStart[0].runas", 10),
    ]
    assert "file_exists_behavior" in spec.notes[0].message


def test_a_pattern_with_a_slash_is_noted_as_matching_nothing() -> None:
    spec = host(MINIMAL + "permissions:\n  - object: /opt/app\n    pattern: 'bin/*.sh'\n")

    assert [(n.path, n.line) for n in spec.notes] == [("permissions[0].pattern", 5)]


# -- problems -------------------------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_with_path_and_line() -> None:
    text = (
        "version: 1.0\n"  # 1
        "os: Linux\n"  # 2
        "Resources: []\n"  # 3
        "files:\n"  # 4
        "  - source: ../secrets\n"  # 5
        "    destination: srv/app\n"  # 6
        "  - destination: /srv/app\n"  # 7
        "file_exists_behavior: overwrite\n"  # 8
        "permissions:\n"  # 9
        "  - object: /srv/app\n"  # 10
        "    mode: 0644\n"  # 11
        "    acls: ['u::rw']\n"  # 12
        "    type: [socket]\n"  # 13
        "hooks:\n"  # 14
        "  Install:\n"  # 15
        "    - location: install.sh\n"  # 16
        "  AfterInstall:\n"  # 17
        "    - location: a.sh\n"  # 18
        "      timeout: 0\n"  # 19
        "    - runas: app\n"  # 20
        "  AfterAllowTestTraffic:\n"  # 21
        "    - location: t.sh\n"  # 22
    )

    where = [(path, line) for path, line, _ in problems_of(text)]

    assert where == [
        ("version", 1),
        ("os", 2),
        ("Resources", 3),
        ("files[0].source", 5),
        ("files[0].destination", 6),
        ("files[1]", 7),
        ("file_exists_behavior", 8),
        ("permissions[0].mode", 11),
        ("permissions[0].acls[0]", 12),
        ("permissions[0].type[0]", 13),
        ("hooks.Install", 15),
        ("hooks.AfterInstall[0].timeout", 19),
        ("hooks.AfterInstall[1]", 20),
        ("hooks.AfterAllowTestTraffic", 21),
    ]


def test_the_error_message_names_file_line_and_path() -> None:
    with pytest.raises(SpecError) as caught:
        parse_appspec(with_hooks("  Install:\n    - location: x.sh\n"), "release/appspec.yml")

    assert "release/appspec.yml:4: hooks.Install: Install is run by CodeDeploy itself" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "path", "line", "message"),
    [
        ("os: linux\n", "version", 1, "missing required key 'version' (use 0.0)"),
        ("version: 0.0\n", "", 1, "missing required key 'os'"),
        ('version: "1"\nos: linux\n', "version", 1, "unsupported version '1' (use 0.0)"),
        ("version: 1.10\nos: linux\n", "version", 1, "unsupported version '1.10' (use 0.0)"),
        ("version: [0.0]\nos: linux\n", "version", 1, "unsupported version '[0.0]' (use 0.0)"),
        ("version: 0.0\nos: macos\n", "os", 2, "unsupported os 'macos' (use linux or windows)"),
        (MINIMAL + "Hooks: {}\n", "Hooks", 3, "unknown key 'Hooks' (did you mean 'hooks'? keys are case-sensitive)"),
        (
            MINIMAL + "resources: []\n",
            "resources",
            3,
            "unknown key 'resources' (Resources belong to Lambda and ECS AppSpecs)",
        ),
        (MINIMAL + "files: /srv\n", "files", 3, "must be a list of entries (- source: / destination: /var/www/html)"),
        (MINIMAL + "files:\n  - /srv\n", "files[0]", 4, "must be a mapping with source and destination"),
        (MINIMAL + "files:\n  - source: a\n", "files[0]", 4, "missing required key 'destination'"),
        (
            MINIMAL + "file_exists_behavior: KEEP\n",
            "file_exists_behavior",
            3,
            "'KEEP' is not DISALLOW, OVERWRITE or RETAIN",
        ),
        (
            MINIMAL + "file_exists_behavior: retain\n",
            "file_exists_behavior",
            3,
            "'retain' is not DISALLOW, OVERWRITE or RETAIN (in capitals)",
        ),
        (
            MINIMAL + "hooks: []\n",
            "hooks",
            3,
            "must be a mapping of lifecycle events to scripts (ApplicationStart: [- location: …])",
        ),
        (with_hooks("  AfterInstall: a.sh\n"), "hooks.AfterInstall", 4, "must be a list of scripts"),
        (
            with_hooks("  AfterInstall:\n    location: a.sh\n"),
            "hooks.AfterInstall",
            4,
            "must be a list of scripts (put '- ' before location)",
        ),
        (
            with_hooks("  AfterInstall:\n    - timeout: 5\n"),
            "hooks.AfterInstall[0]",
            5,
            "missing required key 'location'",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: ''\n"),
            "hooks.AfterInstall[0].location",
            5,
            "needs the path of a script in the revision",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: ../../bin/x\n"),
            "hooks.AfterInstall[0].location",
            5,
            "'../../bin/x' climbs out of the revision with '..'",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: a.sh\n      timeout: 3601\n"),
            "hooks.AfterInstall[0].timeout",
            6,
            "3601 is out of range: use a whole number of seconds from 1 to 3600",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: a.sh\n      timeout: 1.5\n"),
            "hooks.AfterInstall[0].timeout",
            6,
            "must be a whole number of seconds from 1 to 3600",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: a.sh\n      runas: two words\n"),
            "hooks.AfterInstall[0].runas",
            6,
            "needs the name of a Linux user, without spaces",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: a.sh\n      sudo: maybe\n"),
            "hooks.AfterInstall[0].sudo",
            6,
            "must be true or false",
        ),
        (
            with_hooks("  AfterInstall:\n    - location: a.sh\n      user: app\n"),
            "hooks.AfterInstall[0].user",
            6,
            "unknown key 'user'",
        ),
        (
            with_hooks("  afterinstall: []\n"),
            "hooks.afterinstall",
            4,
            "unknown lifecycle event; event names are case-sensitive: did you mean AfterInstall?",
        ),
    ],
)
def test_each_problem_has_its_path_line_and_message(text: str, path: str, line: int, message: str) -> None:
    assert only_problem(text) == (path, line, message)


@pytest.mark.parametrize("event", ["DownloadBundle", "Install", "BlockTraffic", "AllowTraffic"])
def test_events_the_agent_runs_itself_cannot_hold_scripts(event: str) -> None:
    path, line, message = only_problem(with_hooks(f"  {event}:\n    - location: x.sh\n"))

    assert (path, line) == (f"hooks.{event}", 4)
    assert message.startswith(f"{event} is run by CodeDeploy itself and cannot hold a hook")


@pytest.mark.parametrize(
    ("event", "belongs"),
    [("AfterAllowTestTraffic", "of Amazon ECS deployments"), ("AllowTestTraffic", "not an event of EC2/on-premises")],
)
def test_hooks_of_other_deployment_kinds_are_named_as_such(event: str, belongs: str) -> None:
    _, _, message = only_problem(with_hooks(f"  {event}:\n    - location: x.sh\n"))

    assert belongs in message


def test_an_unknown_event_lists_the_hooks_there_are() -> None:
    _, _, message = only_problem(with_hooks("  PostDeploy:\n    - location: x.sh\n"))

    assert message.startswith("unknown lifecycle event (hooks of EC2/on-premises deployments: BeforeBlockTraffic,")
    assert "ValidateService" in message


def test_the_timeouts_of_one_event_may_not_add_up_to_more_than_an_hour() -> None:
    text = with_hooks(
        "  ValidateService:\n    - {location: a.sh, timeout: 3000}\n    - {location: b.sh, timeout: 601}\n"
    )

    assert only_problem(text) == (
        "hooks.ValidateService",
        4,
        "the scripts' timeouts add up to 3601 seconds; a lifecycle event may take 3600 at most",
    )


def test_permissions_on_windows_are_refused() -> None:
    text = "version: 0.0\nos: windows\npermissions:\n  - object: C:\\app\n    mode: 644\n"

    assert only_problem(text) == ("permissions", 3, "permissions apply on Linux only; remove them or use os: linux")


def test_a_misspelt_key_is_unknown_and_the_key_it_stands_for_missing() -> None:
    assert problems_of(MINIMAL + "files:\n  - source: a\n    dest: /b\n") == [
        ("files[0]", 4, "missing required key 'destination'"),
        ("files[0].dest", 5, "unknown key 'dest'"),
    ]


def test_a_windows_destination_must_name_a_drive() -> None:
    text = "version: 0.0\nos: windows\nfiles:\n  - source: app\n    destination: /srv/app\n"

    path, line, message = only_problem(text)
    assert (path, line) == ("files[0].destination", 5)
    assert "C:\\inetpub\\wwwroot" in message


@pytest.mark.parametrize(
    ("permission", "path", "line", "message"),
    [
        ("  - owner: app\n", "permissions[0]", 4, "missing required key 'object'"),
        (
            "  - object: srv/app\n",
            "permissions[0].object",
            4,
            "'srv/app' must be an absolute path on the host (like /var/www/html)",
        ),
        ("  - /srv/app\n", "permissions[0]", 4, "must be a mapping with at least an object"),
        (
            "  - object: /a\n    mode: 0755\n",
            "permissions[0].mode",
            5,
            'YAML reads an unquoted 0755 as the number 493: quote it ("0755") or drop the leading 0',
        ),
        (
            "  - object: /a\n    mode: u+x\n",
            "permissions[0].mode",
            5,
            "'u+x' is not an octal mode: one to four digits from 0 to 7, like 644 or \"0755\"",
        ),
        (
            "  - object: /a\n    mode: 17777\n",
            "permissions[0].mode",
            5,
            "'17777' is not an octal mode: one to four digits from 0 to 7, like 644 or \"0755\"",
        ),
        (
            "  - object: /a\n    mode: '0855'\n",
            "permissions[0].mode",
            5,
            "'0855' is not an octal mode: one to four digits from 0 to 7, like 644 or \"0755\"",
        ),
        (
            "  - object: /a\n    type: [link]\n",
            "permissions[0].type[0]",
            5,
            "'link' is not an object type: use file, directory or both",
        ),
        ("  - object: /a\n    context: {user: u}\n", "permissions[0].context", 5, "missing required key 'type'"),
        (
            "  - object: /a\n    context: {user: u, name: n, type: t}\n",
            "permissions[0].context.name",
            5,
            "give the SELinux user as user or as name, not both",
        ),
        ("  - object: /a\n    context: bin_t\n", "permissions[0].context", 5, "must be a mapping"),
        (
            "  - object: /a\n    context:\n      type: t\n      level: s0\n",
            "permissions[0].context.level",
            7,
            "unknown key 'level'",
        ),
        ("  - object: /a\n    owner: [a, b]\n", "permissions[0].owner", 5, "must be the name of a Linux user"),
        ("  - object: /a\n    colour: red\n", "permissions[0].colour", 5, "unknown key 'colour'"),
    ],
)
def test_each_permission_problem_has_its_path_line_and_message(
    permission: str, path: str, line: int, message: str
) -> None:
    assert only_problem(MINIMAL + "permissions:\n" + permission) == (path, line, message)


def test_an_object_may_appear_only_once() -> None:
    text = MINIMAL + "permissions:\n  - object: /srv/app\n    owner: a\n  - object: /srv/app\n    mode: 600\n"

    assert only_problem(text) == (
        "permissions[1].object",
        6,
        "/srv/app already has an entry (permissions[0]); an object may appear only once",
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("u::rw", "entries without a name are the base permissions; set those with mode"),
        ("g::r", "entries without a name are the base permissions; set those with mode"),
        ("o:bob:r", "other entries take no name"),
        ("m:bob:r", "mask entries take no name"),
        ("x:bob:r", "'x' is not u, user, g, group, m, mask, o or other"),
        ("u:bob:rwz", "permissions must be letters from r, w, x and - (or one octal digit)"),
        ("u:bob:8", "permissions must be letters from r, w, x and - (or one octal digit)"),
        ("d:d:u:bob:rw", "is not an ACL entry like u:bob:rw or d:g:staff:r-x"),
        ("rw", "is not an ACL entry like u:bob:rw or d:g:staff:r-x"),
    ],
)
def test_acl_entries_setfacl_would_refuse(entry: str, reason: str) -> None:
    path, line, message = only_problem(MINIMAL + f"permissions:\n  - object: /a\n    acls:\n      - '{entry}'\n")

    assert (path, line) == ("permissions[0].acls[0]", 6)
    assert message in (f"{entry!r}: {reason}", f"{entry!r} {reason}")


@pytest.mark.parametrize(
    ("level", "reason"),
    [
        ("0", "is not an MLS range like s0, s0-s2 or s0:c0.c5,c9"),
        ("s2-s1", "the high sensitivity is below the low one"),
        ("s0:c1024", "categories go from c0 to c1023, low before high"),
        ("s0:c5.c2", "categories go from c0 to c1023, low before high"),
        ("s0:c1,c0.c3", "a category is named twice"),
        ("s0:x1", "'x1' is not a category like c3 or c0.c9"),
    ],
)
def test_selinux_ranges_are_checked(level: str, reason: str) -> None:
    text = MINIMAL + f"permissions:\n  - object: /a\n    context:\n      type: t\n      range: '{level}'\n"

    path, line, message = only_problem(text)

    assert (path, line) == ("permissions[0].context.range", 7)
    assert reason in message


def test_a_document_that_is_not_a_mapping() -> None:
    assert only_problem("- version: 0.0\n") == ("", 1, "an AppSpec must be a mapping with at least a 'version' key")


def test_a_yaml_syntax_error_gives_its_line() -> None:
    path, line, message = only_problem("version: 0.0\nos: linux\nhooks:\n  AfterInstall: [\n")

    assert (path, line) == ("", 5)
    assert message.startswith("not valid YAML")


def test_a_duplicate_key_is_reported_with_its_line() -> None:
    assert only_problem(with_hooks("  AfterInstall: []\n  AfterInstall: []\n")) == (
        "hooks.AfterInstall",
        5,
        "duplicate key",
    )


def test_the_host_platform_can_be_named_by_the_caller() -> None:
    path, line, message = problems_of("version: 0.0\nResources: []\nHooks: []\n", ComputePlatform.SERVER)[0]

    assert (path, line) == ("", 1)
    assert message == "missing required key 'os'"
