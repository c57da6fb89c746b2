"""Reading this account's RAM invitations and accepting those the rule allows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError
from invitation_rule import InvitationRule

# Someone (a second run, a person) answered the invitation between our read and our accept:
# the outcome we wanted, or one we must not override.
_ALREADY_ANSWERED = {
    "ResourceShareInvitationAlreadyAcceptedException": "already accepted",
    "ResourceShareInvitationAlreadyRejectedException": "already rejected",
    "ResourceShareInvitationExpiredException": "expired",
}


class Log(Protocol):
    """The part of a Powertools Logger the accepter uses."""

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None: ...  # noqa: D102

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None: ...  # noqa: D102


@dataclass
class Outcome:
    """One run: invitation ARNs accepted, and the others with the reason they were left alone."""

    accepted: list[str] = field(default_factory=list)
    ignored: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The run's summary as the function returns it."""
        return {"accepted": self.accepted, "ignored": self.ignored}


def received_invitations(ram: Any) -> list[dict[str, Any]]:
    """Every invitation this account has received in the client's region (all pages)."""
    rows: list[dict[str, Any]] = []
    request: dict[str, Any] = {}
    while True:
        page = ram.get_resource_share_invitations(**request)
        rows.extend(page.get("resourceShareInvitations", []))
        if not page.get("nextToken"):
            return rows
        request = {"nextToken": page["nextToken"]}


def accept_matching(ram: Any, rule: InvitationRule, log: Log) -> Outcome:
    """Accept each received invitation the rule allows; leave every other one as it is.

    Idempotent: accepted invitations are no longer PENDING, and one answered meanwhile is noted,
    not retried. Throttling is retried by the client's (adaptive) retry mode; any other error fails
    the run, and the next scheduled run starts over.
    """
    outcome = Outcome()
    for invitation in received_invitations(ram):
        arn = str(invitation.get("resourceShareInvitationArn"))
        decision = rule.decide(invitation)
        if not decision.accept:
            log.info(
                "invitation ignored",
                invitation=arn,
                reason=decision.reason,
                sender=invitation.get("senderAccountId"),
                share_name=invitation.get("resourceShareName"),
            )
            outcome.ignored[arn] = decision.reason
            continue
        try:
            ram.accept_resource_share_invitation(resourceShareInvitationArn=arn)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _ALREADY_ANSWERED:
                raise
            log.warning("invitation answered meanwhile", invitation=arn, reason=_ALREADY_ANSWERED[code])
            outcome.ignored[arn] = _ALREADY_ANSWERED[code]
            continue
        log.info("invitation accepted", invitation=arn, reason=decision.reason)
        outcome.accepted.append(arn)
    return outcome
