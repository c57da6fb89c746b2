"""Which RAM invitations the accepter accepts: a pure rule over GetResourceShareInvitations rows.

An account outside the organization can be invited by anyone who knows its ID, and accepting an
invitation gives the sender's resources a place in this account. So the rule is narrow: only a
PENDING invitation sent by the model-card account, for a share that account owns in its region,
whose name is exactly one of cardshare's share names (``<stack>-<stage>``). Names are compared
exactly: RAM share names are case-sensitive and anyone can name a share ``cardshare-prod-evil``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
# arn:<partition>:ram:<region>:<account>:<type>/<id>
_RAM_ARN = re.compile(r"^arn:aws[a-z-]*:ram:([a-z0-9-]+):(\d{12}):([a-z-]+)/[A-Za-z0-9-]+$")


_SLOT = re.compile(r"^[A-Za-z0-9]+$")


class RuleConfigError(ValueError):
    """The accepter's configuration is malformed (it then accepts nothing)."""


@dataclass(frozen=True)
class Decision:
    """Whether to accept one invitation, and why (the reason is logged either way)."""

    accept: bool
    reason: str


@dataclass(frozen=True)
class InvitationRule:
    """Accept invitations from ``sender_account`` in ``region`` for shares named in ``share_names``."""

    sender_account: str
    region: str
    share_names: frozenset[str]

    def __post_init__(self) -> None:
        if not _ACCOUNT.match(self.sender_account):
            raise RuleConfigError(f"model-card account {self.sender_account!r} is not a 12-digit account ID")
        if not _REGION.match(self.region):
            raise RuleConfigError(f"region {self.region!r} is not a region name")
        if not self.share_names or any(not name or name != name.strip() for name in self.share_names):
            raise RuleConfigError(f"share names {sorted(self.share_names)!r} must be non-empty, without blanks")

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> InvitationRule:
        """The rule as the consumer template configures it (four environment variables).

        The accepted names are ``<ACCEPTED_SHARE_PREFIX>-<slot>`` for each slot of ``ACCEPTED_SHARE_SLOTS``:
        the cardshare stack names its shares ``<stack>-<stage>-<slot>``.
        """
        try:
            prefix = environ["ACCEPTED_SHARE_PREFIX"]
            slots = environ["ACCEPTED_SHARE_SLOTS"].split(",")
            if not prefix or not all(_SLOT.match(slot) for slot in slots):
                raise RuleConfigError(
                    f"share prefix {prefix!r} and slots {slots!r}: expected a name and labels like 1,2"
                )
            names = frozenset(f"{prefix}-{slot}" for slot in slots)
            return cls(environ["MODEL_CARD_ACCOUNT_ID"], environ["MODEL_CARD_REGION"], names)
        except KeyError as missing:
            raise RuleConfigError(f"environment variable {missing} is not set") from None

    def decide(self, invitation: Mapping[str, Any]) -> Decision:
        """Accept ``invitation`` (a GetResourceShareInvitations row) or say why not."""
        status = invitation.get("status")
        if status != "PENDING":
            return Decision(False, f"status is {status}, not PENDING")
        sender = invitation.get("senderAccountId")
        if sender != self.sender_account:
            return Decision(False, f"sent by account {sender}, not the model-card account {self.sender_account}")
        for field, kind in (
            ("resourceShareArn", "resource-share"),
            ("resourceShareInvitationArn", "resource-share-invitation"),
        ):
            arn = str(invitation.get(field, ""))
            match = _RAM_ARN.match(arn)
            if match is None or match[3] != kind:
                return Decision(False, f"{field} {arn!r} is not a RAM {kind} ARN")
            if (match[1], match[2]) != (self.region, self.sender_account):
                return Decision(False, f"{field} {arn} is not the model-card account's in {self.region}")
        name = invitation.get("resourceShareName")
        if name not in self.share_names:
            return Decision(False, f"share name {name!r} is not one of {sorted(self.share_names)}")
        return Decision(True, f"cardshare share {name} from {sender}")
