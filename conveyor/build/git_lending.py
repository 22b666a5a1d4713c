"""The git credentials a build is lent when its buildspec asks for `git-credential-helper: yes`: the server's
tokens, each for its own site (`conveyor.git_credentials`), masked in the log like secret variables — except to a
pull request's build, whose code (perhaps a fork's) is not accepted yet.
"""

from __future__ import annotations

from conveyor.build.log import BuildLog
from conveyor.build.secrets import Masker
from conveyor.config import Settings
from conveyor.git_credentials import GitCredential, credential_environment, server_credentials

NOT_LENT_TO_PULL_REQUESTS = (
    "the server's token is not lent to a pull request's build: its code, perhaps from a fork, is not accepted yet"
)


def credentials_for(settings: Settings, environment: dict[str, str]) -> tuple[tuple[GitCredential, ...], str | None]:
    """What a build with these CodeBuild variables may be lent, and why it gets nothing when it could have."""
    # CodeBuild's own mark of a build a pull request started (PULL_REQUEST_CREATED, _UPDATED, …)
    if str(environment.get("CODEBUILD_WEBHOOK_EVENT", "")).startswith("PULL_REQUEST"):
        return (), NOT_LENT_TO_PULL_REQUESTS if settings.github_token else None
    return server_credentials(settings), None


def lend(credentials: tuple[GitCredential, ...], withheld: str | None, log: BuildLog, masker: Masker) -> dict[str, str]:
    """The environment that has git in the build present `credentials`; the log says what was lent, or why not."""
    if withheld:
        log.container(f"git-credential-helper: {withheld}")
        return {}
    for credential in credentials:
        masker.add(credential.token)
        log.container(f"git-credential-helper: git presents the token from {credential.origin} to {credential.site}")
    if not credentials:
        log.container(
            "git-credential-helper: Conveyor has no token to lend (CONVEYOR_GITHUB_TOKEN is not set); "
            "git uses only its own configuration"
        )
    return credential_environment(credentials)
