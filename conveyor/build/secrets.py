"""Resolving a buildspec's `parameter-store` and `secrets-manager` variables through boto3, and hiding their values.

Errors name the variable and the parameter or secret, never a value. The values never reach the log: every piece
of it goes through a `Masker` that replaces each value (and each long enough line of a multi-line value) with ***,
and AWS access key ids as CodeBuild does.
"""

from __future__ import annotations

import json
import re
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from conveyor import aws
from conveyor.build.spec import SecretReference
from conveyor.config import Settings
from conveyor.errors import ConveyorError

MASK = "***"
_ACCESS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")
_MIN_LINE = 6  # lines of a multi-line secret shorter than this are too common to hide on their own


class SecretError(ConveyorError):
    """A secret variable could not be resolved; the message names it, never its value."""


class SecretSource(Protocol):
    def parameter(self, name: str) -> str: ...

    def secret(self, secret_id: str, version_stage: str | None, version_id: str | None) -> str: ...


class AwsSecrets:
    """SSM Parameter Store (decrypted) and Secrets Manager, through the one boto3 client factory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def parameter(self, name: str) -> str:
        answer = aws.client("ssm", self.settings).get_parameter(Name=name, WithDecryption=True)
        return str(answer["Parameter"]["Value"])

    def secret(self, secret_id: str, version_stage: str | None, version_id: str | None) -> str:
        options: dict[str, str] = {"SecretId": secret_id}
        if version_id:
            options["VersionId"] = version_id
        else:
            options["VersionStage"] = version_stage or "AWSCURRENT"
        answer = aws.client("secretsmanager", self.settings).get_secret_value(**options)
        if "SecretString" not in answer:
            raise SecretError(f"secret {secret_id} holds binary data, which cannot be an environment variable")
        return str(answer["SecretString"])


def resolve(references: tuple[SecretReference, ...], source: SecretSource) -> dict[str, str]:
    """The value of every secret variable; SecretError for the first that cannot be read."""
    values: dict[str, str] = {}
    for reference in references:
        try:
            values[reference.variable] = _value(reference, source)
        except (ClientError, BotoCoreError) as exc:
            raise SecretError(f"{reference.variable}: cannot read {_what(reference)}: {_reason(exc)}") from None
    return values


def _value(reference: SecretReference, source: SecretSource) -> str:
    if reference.store == "parameter-store":
        return source.parameter(reference.name)
    text = source.secret(reference.name, reference.version_stage, reference.version_id)
    if reference.json_key is None:
        return text
    try:
        document: Any = json.loads(text)
    except ValueError:
        raise SecretError(
            f"{reference.variable}: secret {reference.name} is not JSON, so it has no key {reference.json_key!r}"
        ) from None
    if not isinstance(document, dict) or reference.json_key not in document:
        raise SecretError(f"{reference.variable}: secret {reference.name} has no JSON key {reference.json_key!r}")
    value = document[reference.json_key]
    return value if isinstance(value, str) else json.dumps(value)


def _what(reference: SecretReference) -> str:
    return f"parameter {reference.name}" if reference.store == "parameter-store" else f"secret {reference.name}"


def _reason(exc: ClientError | BotoCoreError) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    return type(exc).__name__


class Masker:
    """Replaces secret values (and AWS access key ids) in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if value:
            self._values.add(value)
        self._values.update(line.strip() for line in value.splitlines() if len(line.strip()) >= _MIN_LINE)
        ordered = sorted(self._values, key=len, reverse=True)  # the longest first: no half-hidden values
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    @property
    def longest(self) -> int:
        return max((len(v) for v in self._values), default=0)

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _ACCESS_KEY_ID.sub(MASK, text)
