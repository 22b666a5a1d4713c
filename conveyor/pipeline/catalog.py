"""The action providers Conveyor runs, with the artifact counts and configuration keys each accepts.

Pure data and pure parsing; the code that runs each provider lives in `conveyor.pipeline.actions`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

GITHUB_URL = "https://github.com/{}.git"
GIT_SOURCE_PROVIDERS = frozenset({"CodeStarSourceConnection", "GitHub", "Git"})


@dataclass(frozen=True)
class ProviderSpec:
    category: str
    provider: str
    owners: frozenset[str]
    inputs: tuple[int, int]
    outputs: tuple[int, int]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    # alternative spellings accepted for a required key (GitHub v1 writes Owner + Repo and Branch)
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # the output variables every action of this provider has; None when they depend on the action (CodeBuild)
    output_variables: frozenset[str] | None = None

    @property
    def is_source(self) -> bool:
        return self.category == "Source"


_GIT_SOURCE_OPTIONAL = frozenset(
    {
        "ConnectionArn",
        "OutputArtifactFormat",
        "DetectChanges",
        "RepositoryUrl",
        "RepositoryAliases",
        "PollForSourceChanges",
    }
)

GIT_SOURCE_OUTPUTS = frozenset(
    {"AuthorDate", "BranchName", "CommitId", "CommitMessage", "ConnectionArn", "FullRepositoryName"}
)

PROVIDERS: dict[tuple[str, str], ProviderSpec] = {
    ("Source", "CodeStarSourceConnection"): ProviderSpec(
        "Source",
        "CodeStarSourceConnection",
        frozenset({"AWS"}),
        (0, 0),
        (1, 1),
        required=frozenset({"FullRepositoryId", "BranchName"}),
        optional=_GIT_SOURCE_OPTIONAL,
        output_variables=GIT_SOURCE_OUTPUTS,
    ),
    ("Source", "GitHub"): ProviderSpec(
        "Source",
        "GitHub",
        frozenset({"ThirdParty", "AWS"}),
        (0, 0),
        (1, 1),
        required=frozenset({"FullRepositoryId", "BranchName"}),
        optional=_GIT_SOURCE_OPTIONAL | {"Owner", "Repo", "Branch", "OAuthToken"},
        alternatives={"FullRepositoryId": ("Owner", "Repo"), "BranchName": ("Branch",)},
        output_variables=GIT_SOURCE_OUTPUTS,
    ),
    ("Source", "Git"): ProviderSpec(
        "Source",
        "Git",
        frozenset({"AWS", "ThirdParty", "Custom"}),
        (0, 0),
        (1, 1),
        required=frozenset({"BranchName"}),
        optional=_GIT_SOURCE_OPTIONAL | {"FullRepositoryId"},
        output_variables=GIT_SOURCE_OUTPUTS,
    ),
    ("Build", "CodeBuild"): ProviderSpec(
        "Build",
        "CodeBuild",
        frozenset({"AWS"}),
        (1, 5),
        (0, 5),
        required=frozenset({"ProjectName"}),
        optional=frozenset({"PrimarySource", "EnvironmentVariables", "BatchEnabled", "CombineArtifacts"}),
    ),
    ("Test", "CodeBuild"): ProviderSpec(
        "Test",
        "CodeBuild",
        frozenset({"AWS"}),
        (1, 5),
        (0, 5),
        required=frozenset({"ProjectName"}),
        optional=frozenset({"PrimarySource", "EnvironmentVariables", "BatchEnabled", "CombineArtifacts"}),
    ),
    ("Deploy", "CodeDeploy"): ProviderSpec(
        "Deploy",
        "CodeDeploy",
        frozenset({"AWS"}),
        (1, 1),
        (0, 0),
        required=frozenset({"ApplicationName", "DeploymentGroupName"}),
        output_variables=frozenset(),
    ),
    ("Approval", "Manual"): ProviderSpec(
        "Approval",
        "Manual",
        frozenset({"AWS"}),
        (0, 0),
        (0, 0),
        optional=frozenset({"CustomData", "ExternalEntityLink", "NotificationArn"}),
        output_variables=frozenset(),
    ),
    ("Source", "S3"): ProviderSpec(
        "Source",
        "S3",
        frozenset({"AWS"}),
        (0, 0),
        (1, 1),
        required=frozenset({"S3Bucket", "S3ObjectKey"}),
        optional=frozenset({"PollForSourceChanges"}),
        output_variables=frozenset({"ETag", "VersionId"}),
    ),
    ("Deploy", "S3"): ProviderSpec(
        "Deploy",
        "S3",
        frozenset({"AWS"}),
        (1, 1),
        (0, 0),
        required=frozenset({"BucketName", "Extract"}),
        optional=frozenset({"ObjectKey", "KMSEncryptionKeyARN", "CannedACL", "CacheControl"}),
        output_variables=frozenset(),
    ),
    ("Deploy", "CloudFormation"): ProviderSpec(
        "Deploy",
        "CloudFormation",
        frozenset({"AWS"}),
        (0, 10),
        (0, 1),
        required=frozenset({"ActionMode", "StackName"}),
        optional=frozenset(
            {
                "ChangeSetName",
                "TemplatePath",
                "TemplateConfiguration",
                "RoleArn",
                "Capabilities",
                "ParameterOverrides",
                "OutputFileName",
            }
        ),
    ),
    ("Invoke", "Lambda"): ProviderSpec(
        "Invoke",
        "Lambda",
        frozenset({"AWS"}),
        (0, 5),
        (0, 5),
        required=frozenset({"FunctionName"}),
        optional=frozenset({"UserParameters"}),
    ),
    ("Compute", "Commands"): ProviderSpec(
        "Compute",
        "Commands",
        frozenset({"AWS"}),
        (1, 10),
        (0, 1),
        optional=frozenset({"EnvironmentType", "ComputeType", "VpcId", "Subnets", "SecurityGroupIds"}),
    ),
}


def provider_spec(category: str, provider: str) -> ProviderSpec | None:
    return PROVIDERS.get((category, provider))


@dataclass(frozen=True)
class GitSource:
    """A git source action's configuration, with GitHub v1 spellings folded in and the clone URL resolved."""

    repository_id: str  # owner/repo, may be empty for a plain Git source
    branch: str
    url: str
    aliases: tuple[str, ...]
    detect_changes: bool

    def repository_keys(self) -> set[str]:
        """Every key a push event for this repository may carry (see `repository_key`)."""
        keys = {repository_key(self.url)}
        if self.repository_id:
            keys.add(repository_key(self.repository_id))
        keys.update(repository_key(alias) for alias in self.aliases)
        return keys


FULL_CLONE = "CODEBUILD_CLONE_REF"  # OutputArtifactFormat of a git source whose artifact is a full clone
ARTIFACT_FORMATS = ("CODE_ZIP", FULL_CLONE)


def is_full_clone(configuration: dict[str, str]) -> bool:
    return configuration.get("OutputArtifactFormat") == FULL_CLONE


def polls_for_changes(provider: str, configuration: dict[str, str]) -> bool:
    """Whether a source polls for changes: S3 unless `PollForSourceChanges` is false (CodePipeline's default for it),
    git only when it is true (pushes reach Conveyor as webhooks)."""
    value = str(configuration.get("PollForSourceChanges", "")).strip().lower()
    if provider == "S3":
        return value != "false"
    return provider in GIT_SOURCE_PROVIDERS and value == "true"


def git_source(configuration: dict[str, Any]) -> GitSource:
    repository_id = str(configuration.get("FullRepositoryId") or "")
    if not repository_id and configuration.get("Owner") and configuration.get("Repo"):
        repository_id = f"{configuration['Owner']}/{configuration['Repo']}"
    branch = str(configuration.get("BranchName") or configuration.get("Branch") or "")
    url = str(configuration.get("RepositoryUrl") or "") or (GITHUB_URL.format(repository_id) if repository_id else "")
    aliases = tuple(a.strip() for a in str(configuration.get("RepositoryAliases") or "").split(",") if a.strip())
    detect = str(configuration.get("DetectChanges", "true")).lower() != "false"
    return GitSource(repository_id, branch, url, aliases, detect)


_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


def repository_key(text: str) -> str:
    """A comparable key for a repository named by URL (https, ssh, scp-like, git, file) or by `owner/repo`.

    `https://GitHub.com/Acme/App.git`, `git@github.com:acme/app.git` and `ssh://git@github.com/acme/app` all give
    `github.com/acme/app`; `acme/app` gives `acme/app`; a local `file:///srv/git/app.git` gives `file:/srv/git/app`.
    """
    text = text.strip().rstrip("/")
    text = text.removesuffix(".git")
    if text.startswith("file://"):
        return "file:" + text.removeprefix("file://")
    if "://" in text:
        rest = text.split("://", 1)[1]
        rest = rest.split("@", 1)[1] if "@" in rest.split("/", 1)[0] else rest
        host, _, path = rest.partition("/")
        return f"{host.split(':')[0].lower()}/{path.lower()}"
    scp = _SCP_LIKE.match(text)
    if scp and "/" not in scp.group("host"):
        return f"{scp.group('host').lower()}/{scp.group('path').lower()}"
    if text.startswith("/"):
        return "file:" + text
    return text.lower()
