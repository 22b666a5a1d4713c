"""Settings: defaults < config file < CONVEYOR_* environment < overrides, with every problem reported at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.config import DEFAULT_COMPUTE_TYPE, Settings, load_settings, make_folder
from conveyor.errors import ConfigurationError


def write_config(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def load(data_dir: Path, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings for a data directory of the test's own; the real environment never takes part."""
    return load_settings(environ=environ or {}, overrides={"data_dir": data_dir, **overrides})


def test_defaults_apply_when_nothing_else_is_given(tmp_path: Path) -> None:
    settings = load(tmp_path)

    assert settings.git_retries == 3
    assert settings.git_timeout == 300.0
    assert settings.compute_types == (DEFAULT_COMPUTE_TYPE,)
    assert settings.keep_workspaces is False
    assert settings.public_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("in_file", "in_env", "in_overrides", "expected"),
    [
        (None, None, None, 3),
        ("7", None, None, 7),
        ("7", "8", None, 8),
        ("7", "8", 9, 9),
        (None, None, 9, 9),
    ],
    ids=["default", "file-beats-default", "env-beats-file", "override-beats-env", "override-beats-default"],
)
def test_each_level_of_precedence_wins_over_the_ones_below(
    tmp_path: Path, in_file: str | None, in_env: str | None, in_overrides: int | None, expected: int
) -> None:
    if in_file is not None:
        write_config(tmp_path / "conveyor.toml", f"git_retries = {in_file}\n")
    environ = {"CONVEYOR_GIT_RETRIES": in_env} if in_env is not None else {}
    overrides = {"git_retries": in_overrides} if in_overrides is not None else {}

    assert load(tmp_path, environ, **overrides).git_retries == expected


def test_levels_merge_setting_by_setting(tmp_path: Path) -> None:
    write_config(tmp_path / "conveyor.toml", 'api_token = "from-file"\npublic_url = "https://file.example"\n')
    environ = {"CONVEYOR_PUBLIC_URL": "https://env.example", "CONVEYOR_AWS_REGION": "eu-west-1"}

    settings = load(tmp_path, environ, aws_region="ap-south-1")

    assert settings.api_token == "from-file"
    assert settings.public_url == "https://env.example"
    assert settings.aws_region == "ap-south-1"


def test_the_real_environment_does_not_leak_in_when_an_environ_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_GIT_RETRIES", "42")

    assert load(tmp_path, {}).git_retries == 3


def test_environment_variables_without_the_prefix_are_ignored(tmp_path: Path) -> None:
    settings = load(tmp_path, {"GIT_RETRIES": "5", "DATABASE_URL": "postgresql://elsewhere/db"})

    assert settings.git_retries == 3
    assert settings.sqlite_default


def test_derived_defaults_live_in_the_data_directory(tmp_path: Path) -> None:
    settings = load(tmp_path)

    assert settings.data_dir == tmp_path
    assert settings.database_url == f"sqlite:///{tmp_path}/conveyor.db"
    assert settings.sqlite_default
    assert settings.redis_url == f"unix://{tmp_path}/redis.sock"
    assert settings.embedded_redis_socket == tmp_path / "redis.sock"
    assert settings.uses_embedded_redis
    assert settings.blob_url == f"file://{tmp_path}/blobs"
    assert settings.path("mirrors", "x.git") == tmp_path / "mirrors" / "x.git"


def test_explicit_urls_replace_the_derived_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"CONVEYOR_REDIS_URL": "redis://127.0.0.1:6379/0", "CONVEYOR_DATABASE_URL": "postgresql://db/conveyor"},
        blob_url="s3://bucket/prefix",
    )

    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert not settings.uses_embedded_redis
    assert settings.database_url == "postgresql://db/conveyor"
    assert not settings.sqlite_default
    assert settings.blob_url == "s3://bucket/prefix"


def test_data_dir_from_the_environment_places_the_config_file_and_derived_defaults(tmp_path: Path) -> None:
    data_dir = tmp_path / "elsewhere"
    write_config(data_dir / "conveyor.toml", "max_attempts = 5\n")

    settings = load_settings(environ={"CONVEYOR_DATA_DIR": str(data_dir)})

    assert settings.data_dir == data_dir
    assert settings.max_attempts == 5
    assert settings.database_url == f"sqlite:///{data_dir}/conveyor.db"


def test_a_relative_data_dir_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    settings = load_settings(environ={"CONVEYOR_DATA_DIR": "state"})

    assert settings.data_dir == tmp_path / "state"
    assert settings.blob_url == f"file://{tmp_path}/state/blobs"


def test_conveyor_config_names_a_file_outside_the_data_dir(tmp_path: Path) -> None:
    write_config(tmp_path / "data" / "conveyor.toml", "git_retries = 1\n")
    explicit = write_config(tmp_path / "etc" / "conveyor.toml", "git_retries = 6\n")

    settings = load(tmp_path / "data", {"CONVEYOR_CONFIG": str(explicit)})

    assert settings.git_retries == 6


def test_conveyor_config_pointing_at_a_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, {"CONVEYOR_CONFIG": str(missing)})

    assert str(missing) in caught.value.message
    assert "CONVEYOR_CONFIG" in caught.value.message


def test_a_missing_config_file_in_the_data_dir_is_not_an_error(tmp_path: Path) -> None:
    assert not (tmp_path / "conveyor.toml").exists()

    assert load(tmp_path).git_retries == 3


def test_invalid_toml_is_a_configuration_error_naming_the_file(tmp_path: Path) -> None:
    path = write_config(tmp_path / "conveyor.toml", "git_retries = = 3\n")

    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path)

    assert str(path) in caught.value.message
    assert "not valid TOML" in caught.value.message


def test_unknown_keys_in_the_config_file_are_all_listed(tmp_path: Path) -> None:
    path = write_config(tmp_path / "conveyor.toml", 'databse_url = "x"\ncolour = "blue"\ngit_retries = 2\n')

    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path)

    message = caught.value.message
    assert str(path) in message
    assert "colour" in message
    assert "databse_url" in message
    assert "git_retries" not in message


def test_an_unknown_override_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no_such_setting: unknown setting"):
        load(tmp_path, no_such_setting=1)


def test_every_bad_value_is_reported_in_one_error(tmp_path: Path) -> None:
    write_config(tmp_path / "conveyor.toml", 'git_retries = "many"\n')
    environ = {"CONVEYOR_KEEP_WORKSPACES": "perhaps", "CONVEYOR_LEASE_SECONDS": "soon"}

    with pytest.raises(ConfigurationError) as caught:
        load(tmp_path, environ, build_timeout_minutes="an hour")

    message = caught.value.message
    assert "git_retries: expected a whole number, got 'many'" in message
    assert "keep_workspaces: expected true or false, got 'perhaps'" in message
    assert "lease_seconds: expected a number, got 'soon'" in message
    assert "build_timeout_minutes: expected a whole number, got 'an hour'" in message


@pytest.mark.parametrize("value", ["2.5", "true"], ids=["fraction", "boolean"])
def test_a_whole_number_setting_refuses_fractions_and_booleans_from_toml(tmp_path: Path, value: str) -> None:
    write_config(tmp_path / "conveyor.toml", f"git_retries = {value}\n")

    with pytest.raises(ConfigurationError, match="git_retries: expected a whole number"):
        load(tmp_path)


def test_numbers_are_converted_from_text_and_toml(tmp_path: Path) -> None:
    write_config(tmp_path / "conveyor.toml", "git_timeout = 12\n")

    settings = load(tmp_path, {"CONVEYOR_MAX_ATTEMPTS": " 4 ", "CONVEYOR_LEASE_SECONDS": "2.5"})

    assert settings.git_timeout == 12.0
    assert isinstance(settings.git_timeout, float)
    assert settings.max_attempts == 4
    assert settings.lease_seconds == 2.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1", True), ("TRUE", True), ("yes", True), (" on ", True), ("0", False), ("false", False), ("No", False)],
)
def test_booleans_are_read_from_the_usual_words(tmp_path: Path, text: str, expected: bool) -> None:
    assert load(tmp_path, {"CONVEYOR_KEEP_WORKSPACES": text}).keep_workspaces is expected


def test_a_toml_boolean_is_taken_as_it_is(tmp_path: Path) -> None:
    write_config(tmp_path / "conveyor.toml", "auto_migrate = false\nkeep_workspaces = true\n")

    settings = load(tmp_path)

    assert settings.auto_migrate is False
    assert settings.keep_workspaces is True


def test_compute_types_come_from_a_comma_separated_list(tmp_path: Path) -> None:
    environ = {"CONVEYOR_COMPUTE_TYPES": "BUILD_GENERAL1_SMALL, BUILD_GENERAL1_LARGE,,"}

    assert load(tmp_path, environ).compute_types == ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE")


def test_compute_types_come_from_a_toml_array(tmp_path: Path) -> None:
    write_config(tmp_path / "conveyor.toml", 'compute_types = ["BUILD_GENERAL1_MEDIUM", "ARM_CONTAINER"]\n')

    assert load(tmp_path).compute_types == ("BUILD_GENERAL1_MEDIUM", "ARM_CONTAINER")


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path)

    with pytest.raises(AttributeError):
        settings.git_retries = 9  # type: ignore[misc]


def test_the_build_sandbox_is_one_of_the_known_kinds(tmp_path: Path) -> None:
    assert load(tmp_path, build_sandbox="bwrap", build_network="off").build_network is False

    with pytest.raises(ConfigurationError, match="build_sandbox: expected none or bwrap, got 'docker'"):
        load(tmp_path, {"CONVEYOR_BUILD_SANDBOX": "docker"})


def test_taking_the_network_away_needs_the_sandbox(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="build_network: false needs build_sandbox = bwrap"):
        load(tmp_path, build_network=False)


def test_deployment_intervals_are_minutes_unless_told_seconds_and_hooks_get_an_hour(tmp_path: Path) -> None:
    defaults = load(tmp_path)
    assert (defaults.deploy_interval_unit, defaults.deploy_hook_timeout) == ("minutes", 3600.0)
    chosen = load(tmp_path, {"CONVEYOR_DEPLOY_INTERVAL_UNIT": "seconds", "CONVEYOR_DEPLOY_HOOK_TIMEOUT": "2.5"})
    assert (chosen.deploy_interval_unit, chosen.deploy_hook_timeout) == ("seconds", 2.5)

    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, deploy_interval_unit="hours", deploy_hook_timeout=0)
    assert "deploy_interval_unit: expected minutes or seconds, got 'hours'" in info.value.message
    assert "deploy_hook_timeout: must be a positive number of seconds" in info.value.message


def test_sources_are_polled_every_minute_unless_told_otherwise_and_zero_turns_polling_off(tmp_path: Path) -> None:
    assert load(tmp_path).poll_interval == 60.0
    assert load(tmp_path, {"CONVEYOR_POLL_INTERVAL": "0"}).poll_interval == 0.0

    with pytest.raises(ConfigurationError) as info:
        load(tmp_path, {"CONVEYOR_POLL_INTERVAL": "-5"})
    assert "poll_interval: expected 0 (no polling) or more seconds" in info.value.message


def test_a_folder_that_cannot_be_made_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    with pytest.raises(ConfigurationError) as caught:
        make_folder(tmp_path / "a-file" / "data", "data directory")

    assert caught.value.message == (
        f"cannot make the data directory {tmp_path}/a-file/data: Not a directory ({tmp_path}/a-file/data)"
    )
    assert make_folder(tmp_path / "x" / "y", "data directory").is_dir()


def test_the_example_config_file_loads(tmp_path: Path) -> None:
    """infra/conveyor.example.toml is what operators copy: every key in it must be one Conveyor reads, with a value
    it accepts."""
    example = Path(__file__).resolve().parents[2] / "infra" / "conveyor.example.toml"

    settings = load(tmp_path, {"CONVEYOR_CONFIG": str(example)})

    assert settings.poll_interval == 60.0
    assert settings.build_sandbox == "bwrap"
    assert settings.database_url == "postgresql://conveyor@db.internal/conveyor"
