"""A deliberately small reader of IAM policy documents, for checks the embedded AWS cannot make.

The embedded AWS stores IAM policies but does not evaluate them. This answers one question about
a set of identity-based policy documents: for an action on a resource, is there an explicit Deny,
an Allow, or neither? Action and Resource are matched with IAM's wildcards (``*`` and ``?``;
actions without case). It knows nothing of NotAction, NotResource, conditions, SCPs, boundaries,
resource policies or sessions, and refuses a matching statement that uses any of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

_UNSUPPORTED = ("NotAction", "NotResource", "Condition", "NotPrincipal")


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _matches(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    actions = _as_list(statement.get("Action", []))
    resources = _as_list(statement.get("Resource", []))
    return any(fnmatchcase(action.lower(), pattern.lower()) for pattern in actions) and any(
        fnmatchcase(resource, pattern) for pattern in resources
    )


def decision(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> str:
    """The outcome for ``action`` on ``resource``: "denied" (a Deny matches), "allowed" or "implicit-deny"."""
    effects: set[str] = set()
    for document in documents:
        for statement in _as_list_of_statements(document):
            if set(_UNSUPPORTED) & set(statement):
                if any(fnmatchcase(action.lower(), p.lower()) for p in _as_list(statement.get("Action", []))):
                    raise NotImplementedError(
                        f"statement {statement.get('Sid')} uses {set(_UNSUPPORTED) & set(statement)}"
                    )
                continue
            if _matches(statement, action, resource):
                effects.add(statement["Effect"])
    if "Deny" in effects:
        return "denied"
    return "allowed" if "Allow" in effects else "implicit-deny"


def _as_list_of_statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    statements = document["Statement"]
    return [statements] if isinstance(statements, Mapping) else list(statements)


def actions(documents: Iterable[Mapping[str, Any]], effect: str, service: str = "sagemaker") -> set[str]:
    """Every ``service:`` action named by a statement with ``effect`` in ``documents``."""
    return {
        action
        for document in documents
        for statement in _as_list_of_statements(document)
        if statement["Effect"] == effect
        for action in _as_list(statement.get("Action", []))
        if action.startswith(f"{service}:")
    }
