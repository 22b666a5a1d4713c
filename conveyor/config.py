"""Settings, read once, in one place.

Precedence, lowest first:

1. built-in defaults (the embedded setup: SQLite, a local blob directory and a local redis-server, all under the
   data directory);
2. the config file: `$CONVEYOR_CONFIG`, else `<data dir>/conveyor.toml` when it exists (TOML, keys named like the
   fields below, e.g. `database_url = "postgresql://..."`);
3. environment variables `CONVEYOR_<FIELD>` (e.g. `CONVEYOR_DATABASE_URL`);
4. explicit overrides passed by the caller (tests, command-line flags).

Nothing else in Conveyor reads `os.environ` for its own settings.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_type_hints

from conveyor.errors import ConfigurationError

ENV_PREFIX = "CONVEYOR_"
DEFAULT_COMPUTE_TYPE = "BUILD_GENERAL1_SMALL"


@dataclasses.dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("~/.local/share/conveyor")
    database_url: str = ""  # default: sqlite:///<data_dir>/conveyor.db
    redis_url: str = ""  # default: unix://<data_dir>/redis.sock, a redis-server that `conveyor up` starts
    blob_url: str = ""  # default: file://<data_dir>/blobs ; or s3://bucket/prefix
    github_webhook_secret: str = ""
    slack_signing_secret: str = ""  # verifies slash commands and button presses from Slack
    slack_roles: tuple[str, ...] = ()  # "TEAM/USER=ROLE" entries (see conveyor.chatops.roles)
    api_token: str = ""  # when set, /api/v1 requires `Authorization: Bearer <token>`
    public_url: str = "http://127.0.0.1:8000"
    aws_region: str = "us-east-1"
    aws_endpoint_url: str = ""
    compute_types: tuple[str, ...] = (DEFAULT_COMPUTE_TYPE,)
    default_compute_type: str = DEFAULT_COMPUTE_TYPE
    lease_seconds: float = 30.0  # a running job that has not sent a heartbeat for this long is lost
    reconcile_interval: float = 5.0
    # seconds between looks at the sources that poll for changes (`PollForSourceChanges`); 0: never look
    poll_interval: float = 60.0
    max_attempts: int = 2  # attempts of one job before a lost job is given up
    git_timeout: float = 300.0
    git_retries: int = 3
    build_timeout_minutes: int = 60  # CodeBuild's default
    build_queued_timeout_minutes: int = 480  # CodeBuild's default: a build queued longer than this times out
    keep_workspaces: bool = False
    build_sandbox: str = "none"  # "bwrap": every build on this worker runs in a bubblewrap sandbox
    build_network: bool = True  # in the sandbox: whether builds may use the network
    runtimes_dir: Path | None = None  # default <data dir>/runtimes: <runtime>/<version>/bin for runtime-versions
    github_api_url: str = "https://api.github.com"  # GitHub Enterprise: https://<host>/api/v3
    github_token: str = ""  # reads private repositories on GitHub's site; posts commit statuses
    slack_api_url: str = "https://slack.com/api/"  # Slack's Web API (chat.postMessage)
    slack_bot_token: str = ""  # for Slack targets that name a channel and no token of their own
    notify_interval: float = 1.0  # seconds between the scheduler's looks for new events to send
    notify_max_attempts: int = 5  # attempts at one notification or commit status before it is given up
    notify_backoff_seconds: float = 2.0  # wait before the second attempt; doubled for each one after
    notify_timeout: float = 10.0  # seconds one HTTP call to a target may take
    # How the interval numbers of Lambda and ECS traffic routings are read: "minutes" as AWS reads them, or
    # "seconds" (tests, demos: LambdaCanary10Percent5Minutes then waits five seconds between its shifts).
    deploy_interval_unit: str = "minutes"
    # How long a Lambda or ECS hook function has to report its status (PutLifecycleEventHookExecutionStatus)
    # before its lifecycle event fails; AWS gives one hour.
    deploy_hook_timeout: float = 3600.0
    auto_migrate: bool = True

    @property
    def sqlite_default(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def embedded_redis_socket(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url == f"unix://{self.embedded_redis_socket}"

    def path(self, *parts: str) -> Path:
        """A path inside the data directory."""
        return self.data_dir.joinpath(*parts)


def make_folder(path: Path, what: str) -> Path:
    """Make a folder Conveyor keeps its data in, or say which one it could not make and why (`what` names it for
    the user: "data directory", "blob directory", …)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"cannot make the {what} {path}: {exc.strerror} ({exc.filename})") from None
    return path


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = get_type_hints(Settings)


def load_settings(environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings from defaults, the config file, the environment and overrides, in that order."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    from_env = {name: environ[ENV_PREFIX + name.upper()] for name in _FIELDS if ENV_PREFIX + name.upper() in environ}
    data_dir = overrides.get("data_dir") or from_env.get("data_dir") or Settings.data_dir
    file_values = _read_config_file(environ, Path(data_dir).expanduser())
    merged: dict[str, Any] = {**file_values, **from_env, **overrides}
    problems: list[str] = []
    values = {}
    for name, raw in merged.items():
        try:
            values[name] = _coerce(name, raw)
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
    problems += _conflicts(values)
    if problems:
        raise ConfigurationError("invalid settings: " + "; ".join(problems))
    return _with_derived_defaults(Settings(**values))


def _conflicts(values: Mapping[str, Any]) -> list[str]:
    """Settings that are each valid but do not go together (or name a choice that does not exist)."""
    problems = []
    sandbox = values.get("build_sandbox", Settings.build_sandbox)
    if sandbox not in ("none", "bwrap"):
        problems.append(f"build_sandbox: expected none or bwrap, got {sandbox!r}")
    elif sandbox == "none" and values.get("build_network") is False:
        problems.append("build_network: false needs build_sandbox = bwrap (only the sandbox can take the network away)")
    for name in ("github_api_url", "slack_api_url"):
        url = str(values.get(name, getattr(Settings, name)))
        if not url.startswith(("http://", "https://")):
            problems.append(f"{name}: expected an http:// or https:// URL, got {url!r}")
    if values.get("poll_interval", 0) < 0:
        problems.append("poll_interval: expected 0 (no polling) or more seconds")
    if values.get("notify_max_attempts", 1) < 1:
        problems.append("notify_max_attempts: expected 1 or more")
    unit = values.get("deploy_interval_unit", Settings.deploy_interval_unit)
    if unit not in ("minutes", "seconds"):
        problems.append(f"deploy_interval_unit: expected minutes or seconds, got {unit!r}")
    if values.get("deploy_hook_timeout", Settings.deploy_hook_timeout) <= 0:
        problems.append("deploy_hook_timeout: must be a positive number of seconds")
    return problems


def _read_config_file(environ: Mapping[str, str], data_dir: Path) -> dict[str, Any]:
    explicit = environ.get(ENV_PREFIX + "CONFIG")
    path = Path(explicit).expanduser() if explicit else data_dir / "conveyor.toml"
    if not path.exists():
        if explicit:
            raise ConfigurationError(f"config file {path} (from {ENV_PREFIX}CONFIG) does not exist")
        return {}
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        raise ConfigurationError(f"config file {path}: unknown settings {', '.join(unknown)}")
    return values


def _coerce(name: str, raw: Any) -> Any:
    if name not in _FIELDS:
        raise ValueError("unknown setting")
    kind = _TYPES[name]
    if kind is Path or kind == Path | None:
        return Path(str(raw)).expanduser().absolute()
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    if kind is int or kind is float:
        wanted = "a whole number" if kind is int else "a number"
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float)):  # int() would truncate 2.5 to 2
            raise ValueError(f"expected {wanted}, got {raw!r}")
        try:
            return kind(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected {wanted}, got {raw!r}") from None
    if kind == tuple[str, ...]:
        items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    return str(raw)


def _with_derived_defaults(settings: Settings) -> Settings:
    data_dir = settings.data_dir.expanduser().absolute()
    return dataclasses.replace(
        settings,
        data_dir=data_dir,
        database_url=settings.database_url or f"sqlite:///{data_dir / 'conveyor.db'}",
        redis_url=settings.redis_url or f"unix://{data_dir / 'redis.sock'}",
        blob_url=settings.blob_url or f"file://{data_dir / 'blobs'}",
        runtimes_dir=settings.runtimes_dir or data_dir / "runtimes",
    )
