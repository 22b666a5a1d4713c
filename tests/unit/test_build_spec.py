"""Buildspec parsing: the quirks CodeBuild accepts, and every problem reported at once with its path and line."""

from __future__ import annotations

import pytest

from conveyor.build.spec import parse_buildspec
from conveyor.errors import SpecError


def problems_of(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(SpecError) as caught:
        parse_buildspec(text)
    return [(p.path, p.line, p.message) for p in caught.value.problems]


def only_problem(text: str) -> tuple[str, int | None, str]:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# -- quirks accepted ----------------------------------------------------------------------------------------------


def test_crlf_line_endings_are_accepted() -> None:
    spec = parse_buildspec("version: 0.2\r\nphases:\r\n  build:\r\n    commands:\r\n      - echo hi\r\n")

    assert spec.phase("build").commands == ("echo hi",)  # no stray \r at the end of the command


def test_a_null_commands_list_gives_a_phase_without_commands() -> None:
    spec = parse_buildspec("version: 0.2\nphases:\n  install:\n    commands:\n  build:\n    commands:\n      - make\n")

    assert spec.phase("install").commands == ()
    assert spec.phase("build").commands == ("make",)


def test_an_empty_dash_entry_is_skipped() -> None:
    spec = parse_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo a\n      -\n      - echo b\n")

    assert spec.phase("build").commands == ("echo a", "echo b")


def test_phases_written_out_of_order_come_back_in_run_order() -> None:
    text = (
        "version: 0.2\nphases:\n"
        "  post_build: {commands: [echo 4]}\n"
        "  build: {commands: [echo 3]}\n"
        "  install: {commands: [echo 1]}\n"
        "  pre_build: {commands: [echo 2]}\n"
    )

    spec = parse_buildspec(text)

    assert [p.name for p in spec.phases] == ["install", "pre_build", "build", "post_build"]
    assert [p.commands for p in spec.phases] == [("echo 1",), ("echo 2",), ("echo 3",), ("echo 4",)]


def test_folded_and_literal_block_commands() -> None:
    text = (
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - >-\n        docker build\n        --tag app .\n"
        "      - |\n        if true; then\n          echo yes\n        fi\n"
    )

    spec = parse_buildspec(text)

    assert spec.phase("build").commands == ("docker build --tag app .", "if true; then\n  echo yes\nfi\n")


def test_numbers_are_accepted_as_commands_and_variable_values() -> None:
    text = "version: 0.2\nenv:\n  variables:\n    N: 3\n    DEBUG: true\nphases:\n  build:\n    commands:\n      - 42\n"

    spec = parse_buildspec(text)

    assert spec.phase("build").commands == ("42",)
    assert spec.variables == {"N": "3", "DEBUG": "true"}


def test_a_file_without_a_trailing_newline_is_accepted() -> None:
    spec = parse_buildspec("version: 0.2\nphases:\n  build:\n    commands:\n      - echo last")

    assert spec.phase("build").commands == ("echo last",)


def test_variable_values_are_kept_literally() -> None:
    spec = parse_buildspec('version: 0.2\nenv:\n  variables:\n    P: "$PATH:/x"\n')

    assert spec.variables == {"P": "$PATH:/x"}


@pytest.mark.parametrize(("version", "one_shell"), [("0.1", False), ("0.2", True), ('"0.2"', True)])
def test_version_0_1_gives_every_command_its_own_shell(version: str, one_shell: bool) -> None:
    spec = parse_buildspec(f"version: {version}\nphases:\n  build:\n    commands: [echo]\n")

    assert spec.one_shell is one_shell


@pytest.mark.parametrize("value", ["ABORT", "CONTINUE", "RETRY", "RETRY-3", "RETRY-.*timeout.*", "RETRY-2-oops"])
def test_every_documented_on_failure_form_is_accepted(value: str) -> None:
    spec = parse_buildspec(f"version: 0.2\nphases:\n  build:\n    on-failure: {value}\n    commands: [make]\n")

    assert spec.phase("build").on_failure == value


def test_artifacts_section_is_read() -> None:
    text = "version: 0.2\nartifacts:\n  files: ['**/*']\n  base-directory: dist\n  discard-paths: yes\n"

    artifacts = parse_buildspec(text).artifacts

    assert artifacts is not None
    assert (artifacts.files, artifacts.base_directory, artifacts.discard_paths) == (("**/*",), "dist", True)


def test_not_yet_run_lists_keys_conveyor_does_not_carry_out() -> None:
    text = (
        "version: 0.2\ncache:\n  paths: ['/root/.m2/**/*']\nreports:\n  unit:\n    files: [report.xml]\n"
        "env:\n  git-credential-helper: yes\nproxy:\n  upload-artifacts: no\n"
        "phases:\n  install:\n    runtime-versions:\n      python: 3.12\n"
    )

    spec = parse_buildspec(text)

    assert spec.not_yet_run == ("proxy",)


@pytest.mark.parametrize(
    ("written", "asked"), [("yes", True), ("'yes'", True), ("YES", True), ("no", False), ("'no'", False)]
)
def test_git_credential_helper_is_yes_or_no(written: str, asked: bool) -> None:
    text = f"version: 0.2\nenv:\n  git-credential-helper: {written}\nphases:\n  build:\n    commands: [make]\n"

    assert parse_buildspec(text).git_credential_helper is asked


def test_git_credential_helper_is_no_unless_asked() -> None:
    assert parse_buildspec("version: 0.2\nphases:\n  build:\n    commands: [make]\n").git_credential_helper is False


def test_git_credential_helper_other_than_yes_or_no_is_refused_at_its_line() -> None:
    text = "version: 0.2\nenv:\n  git-credential-helper: always\nphases:\n  build:\n    commands: [make]\n"

    with pytest.raises(SpecError) as refused:
        parse_buildspec(text)

    assert "buildspec.yml:3: env.git-credential-helper: must be yes or no, not 'always'" in str(refused.value)


def test_a_plain_buildspec_has_nothing_not_yet_run() -> None:
    assert parse_buildspec("version: 0.2\nphases:\n  build:\n    commands: [make]\n").not_yet_run == ()


# -- problems -----------------------------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once_with_path_and_line() -> None:
    text = (
        "version: 0.2\n"  # 1
        "bogus: 1\n"  # 2
        "env:\n"  # 3
        "  variables:\n"  # 4
        "    CODEBUILD_X: y\n"  # 5
        "  exported-variables:\n"  # 6
        "    - AWS_REGION\n"  # 7
        "phases:\n"  # 8
        "  compile:\n"  # 9
        "    commands: [make]\n"  # 10
        "  build:\n"  # 11
        "    timeout: 5\n"  # 12
        "    on-failure: IGNORE\n"  # 13
        "    commands:\n"  # 14
        "      - echo key: value\n"  # 15
        "artifacts:\n"  # 16
        "  name: out\n"  # 17
    )

    where = [(path, line) for path, line, _ in problems_of(text)]

    assert where == [
        ("bogus", 2),
        ("env.variables.CODEBUILD_X", 5),
        ("env.exported-variables[0]", 7),
        ("phases.compile", 9),
        ("phases.build.timeout", 12),
        ("phases.build.on-failure", 13),
        ("phases.build.commands[0]", 15),
        ("artifacts.files", 16),
    ]


def test_the_error_message_names_file_line_and_path() -> None:
    with pytest.raises(SpecError) as caught:
        parse_buildspec("version: 0.2\nphases:\n  compile:\n    commands: [make]\n", "ci/buildspec.yml")

    assert "ci/buildspec.yml:3: phases.compile: unknown phase" in str(caught.value)


def test_an_unknown_top_level_key_is_reported() -> None:
    path, line, message = only_problem("version: 0.2\nstages: []\n")

    assert (path, line, message) == ("stages", 2, "unknown key")


def test_an_unknown_phase_is_reported_with_the_valid_names() -> None:
    path, line, message = only_problem("version: 0.2\nphases:\n  test:\n    commands: [make]\n")

    assert (path, line) == ("phases.test", 3)
    assert "install, pre_build, build, post_build" in message


def test_an_unknown_phase_key_is_reported() -> None:
    path, line, message = only_problem("version: 0.2\nphases:\n  build:\n    command: [make]\n")

    assert (path, line, message) == ("phases.build.command", 4, "unknown key")


def test_a_missing_version_is_reported() -> None:
    path, _, message = only_problem("phases:\n  build:\n    commands: [make]\n")

    assert path == "version"
    assert "missing required key 'version'" in message


@pytest.mark.parametrize("version", ["0.3", "1", "latest"])
def test_an_unsupported_version_is_reported(version: str) -> None:
    path, line, message = only_problem(f"phases: {{}}\nversion: {version}\n")

    assert (path, line) == ("version", 2)
    assert f"unsupported version '{version}'" in message


def test_an_unquoted_command_containing_colon_space_is_reported() -> None:
    text = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ok\n      - echo Result: done\n"

    path, line, message = only_problem(text)

    assert (path, line) == ("phases.build.commands[1]", 6)
    assert "quote a command that contains ': '" in message


def test_codebuild_variable_names_are_reserved() -> None:
    path, line, message = only_problem("version: 0.2\nenv:\n  variables:\n    CODEBUILD_BUILD_ID: mine\n")

    assert (path, line) == ("env.variables.CODEBUILD_BUILD_ID", 4)
    assert "reserved" in message


def test_aws_names_cannot_be_exported() -> None:
    text = "version: 0.2\nenv:\n  exported-variables:\n    - IMAGE_TAG\n    - AWS_ACCESS_KEY_ID\n"

    path, line, message = only_problem(text)

    assert (path, line) == ("env.exported-variables[1]", 5)
    assert "AWS_ACCESS_KEY_ID" in message


@pytest.mark.parametrize("name", ["IMAGE TAG", "TAG}$(id)", "1ST", ""])
def test_exported_names_must_be_shell_variable_names(name: str) -> None:
    path, line, message = only_problem(f'version: 0.2\nenv:\n  exported-variables:\n    - "{name}"\n')

    assert (path, line) == ("env.exported-variables[0]", 4)
    assert "not a valid variable name" in message


@pytest.mark.parametrize("value", ["IGNORE", "continue", "RETRY-101"])
def test_an_invalid_on_failure_is_reported(value: str) -> None:
    text = f"version: 0.2\nphases:\n  build:\n    on-failure: {value}\n    commands: [make]\n"

    path, line, message = only_problem(text)

    assert (path, line) == ("phases.build.on-failure", 4)
    assert repr(value) in message


def test_artifacts_without_files_are_reported() -> None:
    path, line, message = only_problem("version: 0.2\nartifacts:\n  base-directory: dist\n")

    assert (path, line) == ("artifacts.files", 2)
    assert "non-empty 'files'" in message


def test_runtime_versions_outside_install_are_reported() -> None:
    text = "version: 0.2\nphases:\n  build:\n    runtime-versions:\n      python: 3.12\n    commands: [make]\n"

    path, line, _ = only_problem(text)

    assert (path, line) == ("phases.build.runtime-versions", 4)


def test_a_yaml_syntax_error_is_reported_with_its_line() -> None:
    _, line, message = only_problem("version: 0.2\nphases:\n  build:\n    commands: [make\n")

    assert line is not None
    assert line >= 4
    assert message.startswith("not valid YAML")


def test_a_document_that_is_not_a_mapping_is_reported() -> None:
    _, _, message = only_problem("- version: 0.2\n")

    assert "must be a mapping" in message


def test_an_exported_name_problem_points_at_its_own_entry_after_an_empty_dash() -> None:
    text = "version: 0.2\nenv:\n  exported-variables:\n    -\n    - AWS_SECRET\n"
    assert only_problem(text) == ("env.exported-variables[1]", 5, "AWS_SECRET: names starting AWS_ cannot be exported")


@pytest.mark.parametrize(
    ("value", "retries", "pattern"),
    [
        ("RETRY", 3, None),
        ("RETRY-5", 5, None),
        ("RETRY-timeout", 3, "timeout"),
        ("RETRY-2-time.*out", 2, "time.*out"),
        ("RETRY-5xx", 3, "5xx"),
    ],
)
def test_retry_forms_are_understood(value: str, retries: int, pattern: str | None) -> None:
    spec = parse_buildspec(f"version: 0.2\nphases:\n  build:\n    on-failure: {value}\n    commands: [make]\n")
    policy = spec.phases[0].retry
    assert policy is not None
    assert (policy.retries, policy.pattern) == (retries, pattern)


def test_a_retry_count_over_100_or_a_broken_regex_is_refused() -> None:
    for value in ("RETRY-101", "RETRY-3-(unclosed"):
        path, line, message = only_problem(
            f"version: 0.2\nphases:\n  build:\n    on-failure: {value}\n    commands: [make]\n"
        )
        assert (path, line) == ("phases.build.on-failure", 4)
        assert value in message
