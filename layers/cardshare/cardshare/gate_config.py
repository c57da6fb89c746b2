"""The governance settings: required review fields, who may approve, enforcement, how long to wait.

Parsed once per container from the plan function's environment; every error names the template
parameter (and the variable) so an operator can fix the stack, not guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cardshare.policy import ConfigError

DEFAULT_REQUIRED_FIELDS = (
    "model_overview.model_owner",
    "model_overview.problem_type",
    "intended_uses.intended_uses",
)
_FIELD_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ACCOUNT = re.compile(r"^\d{12}$")
# An allow-list entry names an IAM role (or user) or a Studio user profile in one literal account:
# a wildcard in the account field would let any account's look-alike role approve.
_ROLE_PATH = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:role/)(?:[^*]*/)(?=[^/]+$)")
_APPROVER = re.compile(
    r"^arn:aws[a-z-]*:(?:iam::(?P<iam>[^:]*):(?:role|user)/.+|sagemaker:[^:]+:(?P<sm>[^:]*):user-profile/.+)$"
)


class Enforcement(StrEnum):
    """What cardshare does about a blocked approval besides withholding prod."""

    ALERT = "alert"
    REVERT = "revert"


@dataclass(frozen=True)
class GateConfig:
    """Required content fields, approver accounts and allow-list, enforcement, evidence wait."""

    required_fields: tuple[str, ...] = DEFAULT_REQUIRED_FIELDS
    approver_patterns: tuple[str, ...] = ()
    approver_accounts: frozenset[str] = frozenset()
    enforcement: Enforcement = Enforcement.ALERT
    evidence_wait_seconds: int = 120
    edit_events: bool = True
    """Whether SageMaker emits a state-change event for content-only edits (unconfirmed by AWS).

    When it does not, the editor who created a version is never seen, and the approval rule
    accepts the authors it can see (the creator, the submitters) instead of refusing every later
    version: a weaker check the README states.
    """


@dataclass(frozen=True)
class RawGateSettings:
    """The gate settings as the environment gives them (comma-separated strings, possibly unset)."""

    required_fields: str | None = None
    approvers: str | None = None
    approver_accounts: str | None = None
    enforcement: str | None = None
    content_edit_events: str | None = None


def _items(value: str | None) -> tuple[str, ...]:
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())


def _approver_pattern(pattern: str) -> str:
    match = _APPROVER.match(pattern)
    if match is None:
        raise ConfigError(
            f"ApproverAllowList (CARDSHARE_APPROVERS): {pattern!r} is not an IAM role/user ARN or a "
            "SageMaker user profile ARN"
        )
    account = match["iam"] if match["iam"] is not None else match["sm"]
    if not _ACCOUNT.match(account or ""):
        raise ConfigError(
            f"ApproverAllowList (CARDSHARE_APPROVERS): {pattern!r} must name one 12-digit account; "
            "wildcards are allowed only in the role or profile name"
        )
    # A role session's ARN carries the role's name but not its path, and a role name is unique in
    # its account whatever the path: compare without it.
    return _ROLE_PATH.sub(r"\1", pattern)


def parse_gate_config(raw: RawGateSettings, owner_account: str, evidence_wait_seconds: int) -> GateConfig:
    """Build the gate configuration; a ConfigError names the parameter at fault."""
    fields = _items(raw.required_fields) if raw.required_fields is not None else DEFAULT_REQUIRED_FIELDS
    for path in fields:
        if not _FIELD_PATH.match(path):
            raise ConfigError(
                f"ReviewRequiredFields (CARDSHARE_REQUIRED_FIELDS): {path!r} is not a dotted path into the card content"
            )
    patterns = tuple(_approver_pattern(p) for p in _items(raw.approvers))
    accounts = _items(raw.approver_accounts) or (owner_account,)
    for account in accounts:
        if not _ACCOUNT.match(account):
            raise ConfigError(
                f"ApproverAccountIds (CARDSHARE_APPROVER_ACCOUNTS): {account!r} is not a 12-digit account ID"
            )
    mode = (raw.enforcement or Enforcement.ALERT.value).strip()
    if mode not in {e.value for e in Enforcement}:
        raise ConfigError(f"ApprovalEnforcement (CARDSHARE_ENFORCEMENT): {mode!r} is not one of alert, revert")
    edits = (raw.content_edit_events or "emitted").strip()
    if edits not in ("emitted", "missing"):
        raise ConfigError(
            f"ContentEditEvents (CARDSHARE_CONTENT_EDIT_EVENTS): {edits!r} is not one of emitted, missing"
        )
    return GateConfig(
        fields, patterns, frozenset(accounts), Enforcement(mode), evidence_wait_seconds, edits == "emitted"
    )
