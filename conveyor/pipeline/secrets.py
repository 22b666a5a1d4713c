"""Secrets in pipeline declarations: shown masked, kept when a definition sends the mask back.

A GitHub (version 1) source's `OAuthToken` reads `****`, as CodePipeline's GetPipeline shows it, and credentials
written into an http(s) `RepositoryUrl` read `***` (`https://***@host/…`; an ssh URL's user name, `git@`, is no
secret and is shown). A definition read from Conveyor, edited and saved
again carries those masks: where a field holds exactly the mask of what the same action (same stage, same name) had
before, the value kept is the one before, so a round trip through `pipeline get` and `pipeline update` loses no
token. A mask with nothing behind it is no token at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.redaction import redact

MASK = "****"


def _masked_url(url: str) -> str:
    return redact(url) if url.lower().startswith(("http://", "https://")) else url


_MASKS: dict[str, Callable[[str], str]] = {
    "OAuthToken": lambda value: MASK,
    "RepositoryUrl": _masked_url,
}


def masked_configuration(configuration: dict[str, Any]) -> dict[str, Any]:
    """An action's configuration as it is shown."""
    return {
        key: _MASKS[key](value) if key in _MASKS and isinstance(value, str) and value else value
        for key, value in configuration.items()
    }


def masked_document(document: dict[str, Any]) -> dict[str, Any]:
    """A pipeline declaration as it is shown: every action's configuration masked."""
    return _each_configuration(document, lambda stage, action, configuration: masked_configuration(configuration))


def is_mask(value: Any) -> bool:
    """Whether a field holds a mask rather than a secret (`****` for a token)."""
    return isinstance(value, str) and value == MASK


def keep_secrets(document: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """`document` with each masked field that masks what the same action held in `before` given that value back."""
    if before is None:
        return document
    earlier: dict[tuple[Any, Any], dict[str, Any]] = {}
    _each_configuration(before, lambda stage, action, configuration: earlier.setdefault((stage, action), configuration))

    def restored(stage: Any, action: Any, configuration: dict[str, Any]) -> dict[str, Any]:
        old = earlier.get((stage, action), {})
        return {key: _kept(key, value, old.get(key)) for key, value in configuration.items()}

    return _each_configuration(document, restored)


def _kept(key: str, value: Any, old: Any) -> Any:
    if key not in _MASKS or not isinstance(value, str) or not isinstance(old, str) or value == old:
        return value
    return old if value == _MASKS[key](old) else value


Change = Callable[[Any, Any, dict[str, Any]], dict[str, Any]]  # (stage name, action name, configuration)


def _each_configuration(document: dict[str, Any], change: Change) -> dict[str, Any]:
    """`document` with every action's configuration replaced by what `change` makes of it."""
    stages = []
    for stage in document.get("stages", []):
        actions = []
        for action in stage.get("actions", []):
            configuration = action.get("configuration")
            if isinstance(configuration, dict):
                configuration = change(stage.get("name"), action.get("name"), configuration)
                actions.append({**action, "configuration": configuration})
            else:
                actions.append(action)
        stages.append({**stage, "actions": actions})
    return {**document, "stages": stages}
