"""Tokens git presents to the sites of private repositories over HTTP(S).

A token is handed to git by a credential helper that answers only for the token's own site (`scheme://host[:port]`):
the token is in the git process's environment, never in a URL, an argument (which `ps` shows) or an error message,
and a redirect to another site gets nothing. The mirrors fetch with them, and a build whose buildspec asks for
`git-credential-helper: yes` has its git commands use them.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from conveyor.config import Settings


@dataclass(frozen=True)
class GitCredential:
    """A token git presents to one site over HTTP(S), as the password of `username` (GitHub takes any user name with
    an access token; `x-access-token` is the one its apps use). `origin` says where the token came from, for errors.
    """

    site: str  # scheme://host[:port], as `site_of` gives it
    token: str = field(repr=False)
    origin: str
    username: str = "x-access-token"


def site_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lower case, without credentials; None for other URLs."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}{port}"


# A credential helper: git runs it as `<helper> get` for the site it is configured for, the helper's own arguments
# being the user name and the name of the variable that holds the token.
_HELPER = '!f() { if test "$3" = get; then printf \'username=%s\\npassword=%s\\n\' "$1" "$(printenv "$2")"; fi; }; f'


def credential_environment(credentials: tuple[GitCredential, ...]) -> dict[str, str]:
    """Environment variables that make git ask each credential's helper, and only for its own site."""
    if not credentials:
        return {}
    first = int(os.environ.get("GIT_CONFIG_COUNT") or 0)  # settings a caller's environment already passes on
    environment: dict[str, str] = {}
    for n, credential in enumerate(credentials):
        variable = f"CONVEYOR_GIT_TOKEN_{n}"
        environment[variable] = credential.token
        environment[f"GIT_CONFIG_KEY_{first + n}"] = f"credential.{credential.site}.helper"
        environment[f"GIT_CONFIG_VALUE_{first + n}"] = f"{_HELPER} {shlex.quote(credential.username)} {variable}"
    environment["GIT_CONFIG_COUNT"] = str(first + len(credentials))
    return environment


def github_site(api_url: str) -> str:
    """Where GitHub serves git, from its API's address: github.com for api.github.com, else the Enterprise host."""
    parts = urlsplit(api_url)
    if (parts.hostname or "").lower() == "api.github.com":
        return "https://github.com"
    return site_of(api_url) or "https://github.com"


def server_credentials(settings: Settings) -> tuple[GitCredential, ...]:
    """The server's own: `CONVEYOR_GITHUB_TOKEN` for GitHub's site, when set."""
    if not settings.github_token:
        return ()
    site = github_site(settings.github_api_url)
    return (GitCredential(site, settings.github_token, "CONVEYOR_GITHUB_TOKEN"),)
