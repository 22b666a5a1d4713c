"""What a CloudFormation action sends with its stack, read from its input artifacts.

* The template: `TemplatePath`'s file, JSON or YAML (CloudFormation's short-form tags such as `!Ref` included),
  checked to be a mapping of at most 51,200 bytes (CloudFormation's limit on a template sent in the request).
* The parameters, tags and stack policy of the template configuration file (`TemplateConfiguration`:
  `{"Parameters": {…}, "Tags": {…}, "StackPolicy": {…}}`), then `ParameterOverrides` on top (they win).
* The parameter override functions: `Fn::GetParam` reads a key of a JSON file inside an input artifact;
  `Fn::GetArtifactAtt` gives where an input artifact is stored (`BucketName`, `ObjectKey`, `URL`), which only means
  something to CloudFormation when the blob store is S3 — with a local blob store it is refused.

Whatever the artifacts do not hold as the configuration says raises `StackInputError`, naming the artifact and the
file; the action then fails with ConfigurationError. Parameter values never appear in a message: they may be secret.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse

import yaml

from conveyor.blobs import BlobStore
from conveyor.config import Settings
from conveyor.pipeline.actions.stacks import StackRequest
from conveyor.pipeline.stack_config import (
    ArtifactPath,
    GetArtifactAtt,
    GetParam,
    ParameterValue,
    StackConfiguration,
    parameter_value,
)

MAX_TEMPLATE_BODY_BYTES = 51_200
TEMPLATE_CONFIGURATION_KEYS = frozenset({"Parameters", "Tags", "StackPolicy"})


class StackInputError(ValueError):
    """An input artifact does not hold what the action's configuration says it holds."""


class ArtifactFiles:
    """Files of the action's input artifacts (zips in the blob store); each archive is fetched once."""

    def __init__(self, blobs: BlobStore, input_artifacts: dict[str, dict[str, Any]], scratch: Path) -> None:
        self.blobs = blobs
        self.input_artifacts = input_artifacts
        self.scratch = scratch
        self._archives: dict[str, zipfile.ZipFile] = {}

    def __enter__(self) -> ArtifactFiles:
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        for archive in self._archives.values():
            archive.close()

    def read(self, where: ArtifactPath) -> bytes:
        archive = self._archive(where.artifact)
        try:
            return archive.read(where.path)
        except KeyError:
            raise StackInputError(f"{where}: artifact {where.artifact} holds no file {where.path!r}") from None

    def blob_url(self, artifact: str) -> str:
        """Where the artifact's zip is stored (`s3://bucket/key` or `file://…`)."""
        return self.blobs.url(self._record(artifact)["key"])

    def _record(self, artifact: str) -> dict[str, Any]:
        record = self.input_artifacts.get(artifact)
        if record is None:
            raise StackInputError(f"input artifact {artifact} was not produced in this execution")
        return record

    def _archive(self, artifact: str) -> zipfile.ZipFile:
        if artifact not in self._archives:
            local = self.scratch / f"{len(self._archives)}.zip"
            try:
                self.blobs.get_file(self._record(artifact)["key"], local)
                self._archives[artifact] = zipfile.ZipFile(local)
            except FileNotFoundError:
                raise StackInputError(f"input artifact {artifact} is missing from the blob store") from None
            except zipfile.BadZipFile:
                raise StackInputError(f"input artifact {artifact} is not a readable zip file") from None
        return self._archives[artifact]


def stack_request(config: StackConfiguration, files: ArtifactFiles, settings: Settings) -> StackRequest:
    """The template, parameters, tags and stack policy for a mode that sends a template."""
    assert config.template is not None, "only modes that send a template build a request"
    body = template_body(files.read(config.template), config.template)
    parameters: dict[str, str] = {}
    tags: dict[str, str] | None = None
    policy: str | None = None
    if config.template_configuration is not None:
        where = config.template_configuration
        parameters, tags, policy = template_configuration(files.read(where), where)
    parameters.update(resolve_overrides(config.parameter_overrides, files, settings))
    return StackRequest(
        template_body=body,
        template_location=str(config.template),
        parameters=parameters,
        capabilities=config.capabilities,
        role_arn=config.role_arn,
        tags=tags,
        stack_policy=policy,
    )


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML that takes CloudFormation's short-form functions (`!Ref`, `!Sub`, `!GetAtt`, …) as plain values."""


def _tagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _tagged)


def template_body(data: bytes, where: ArtifactPath) -> str:
    """The template's text, once it is known to be a JSON or YAML mapping CloudFormation can take in a request."""
    if len(data) > MAX_TEMPLATE_BODY_BYTES:
        raise StackInputError(
            f"template {where} is {len(data)} bytes; CloudFormation takes at most {MAX_TEMPLATE_BODY_BYTES} "
            "in a request"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StackInputError(f"template {where} is not UTF-8 text") from None
    if not text.strip():
        raise StackInputError(f"template {where} is empty")
    document = _parse_template(text, where)
    if not isinstance(document, dict):
        raise StackInputError(f"template {where} must be a mapping (Resources, Parameters, Outputs, …)")
    return text


def _parse_template(text: str, where: ArtifactPath) -> Any:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as exc:
            raise StackInputError(f"template {where} is not valid JSON: {exc}") from None
    try:
        return yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 - a safe loader that only adds tag handling
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise StackInputError(f"template {where} is not valid YAML{line}: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise StackInputError(f"template {where} is not valid YAML: {exc}") from None


def template_configuration(
    data: bytes, where: ArtifactPath
) -> tuple[dict[str, str], dict[str, str] | None, str | None]:
    """The parameters, tags (None when the file gives none) and stack policy (JSON text) of the file."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise StackInputError(f"template configuration {where} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise StackInputError(
            f"template configuration {where} must be a JSON object with Parameters, Tags, StackPolicy"
        )
    unknown = sorted(set(document) - TEMPLATE_CONFIGURATION_KEYS)
    if unknown:
        raise StackInputError(
            f"template configuration {where}: unknown key {', '.join(map(repr, unknown))} "
            "(it takes Parameters, Tags and StackPolicy)"
        )
    parameters = _text_mapping(document.get("Parameters", {}), "Parameters", where)
    tags = _text_mapping(document["Tags"], "Tags", where) if "Tags" in document else None
    policy = document.get("StackPolicy")
    if policy is not None and not isinstance(policy, dict):
        raise StackInputError(f"template configuration {where}: StackPolicy must be an object with a Statement list")
    return parameters, tags, json.dumps(policy) if policy is not None else None


def _text_mapping(data: Any, section: str, where: ArtifactPath) -> dict[str, str]:
    if not isinstance(data, dict):
        raise StackInputError(f"template configuration {where}: {section} must be an object of names and values")
    values: dict[str, str] = {}
    for name, value in data.items():
        text, problem = parameter_value(value)
        if problem or not isinstance(text, str):
            raise StackInputError(f"template configuration {where}: {section}.{name} {problem}")
        values[name] = text
    return values


def resolve_overrides(overrides: dict[str, ParameterValue], files: ArtifactFiles, settings: Settings) -> dict[str, str]:
    """The parameter overrides as text, with their parameter override functions evaluated."""
    resolved: dict[str, str] = {}
    for name, value in overrides.items():
        if isinstance(value, GetParam):
            resolved[name] = _get_param(value, files, name)
        elif isinstance(value, GetArtifactAtt):
            resolved[name] = artifact_attribute(files.blob_url(value.artifact), value, settings)
        else:
            resolved[name] = value
    return resolved


def _get_param(function: GetParam, files: ArtifactFiles, parameter: str) -> str:
    where = ArtifactPath(function.artifact, function.file)
    prefix = f"ParameterOverrides {parameter!r}: Fn::GetParam {where}"
    try:
        document = json.loads(files.read(where))
    except ValueError as exc:
        raise StackInputError(f"{prefix} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise StackInputError(f"{prefix} is not a JSON object")
    if function.key not in document:
        raise StackInputError(f"{prefix} has no key {function.key!r} (it has: {', '.join(sorted(document)) or 'none'})")
    text, problem = parameter_value(document[function.key])
    if problem or not isinstance(text, str):
        raise StackInputError(f"{prefix}: key {function.key!r} {problem}")
    return text


def artifact_attribute(blob_url: str, function: GetArtifactAtt, settings: Settings) -> str:
    """`BucketName`, `ObjectKey` or `URL` of an artifact stored at `blob_url`, which must be in S3."""
    stored = urlparse(blob_url)
    if stored.scheme != "s3":
        raise StackInputError(
            f"Fn::GetArtifactAtt [{function.artifact}, {function.attribute}]: artifacts are kept in a local "
            "directory here, which CloudFormation cannot read; it needs the blob store on S3 (CONVEYOR_BLOB_URL=s3://…)"
        )
    bucket, key = stored.netloc, stored.path.lstrip("/")
    if function.attribute == "BucketName":
        return bucket
    if function.attribute == "ObjectKey":
        return key
    endpoint = settings.aws_endpoint_url.rstrip("/") or f"https://s3.{settings.aws_region}.amazonaws.com"
    return f"{endpoint}/{bucket}/{key}"
