"""Which invitations the accepter accepts, including the look-alikes an attacker can send."""

from __future__ import annotations

from typing import Any

import pytest
from invitation_rule import InvitationRule, RuleConfigError

MODEL_CARD = "123456789012"
OTHER = "999999999999"
REGION = "us-east-1"
RULE = InvitationRule(MODEL_CARD, REGION, frozenset({"cardshare-prod"}))


def invitation(
    name: str = "cardshare-prod",
    sender: str = MODEL_CARD,
    status: str = "PENDING",
    share_account: str | None = None,
    region: str = REGION,
) -> dict[str, Any]:
    """A GetResourceShareInvitations row as RAM returns it (share and invitation in the sender's account)."""
    owner = share_account or sender
    return {
        "resourceShareInvitationArn": f"arn:aws:ram:{region}:{sender}:resource-share-invitation/0b1d7e3c-1111",
        "resourceShareName": name,
        "resourceShareArn": f"arn:aws:ram:{region}:{owner}:resource-share/5a6b7c8d-2222",
        "senderAccountId": sender,
        "receiverAccountId": "444444444444",
        "status": status,
    }


def test_accepts_the_cardshare_share_from_the_model_card_account() -> None:
    decision = RULE.decide(invitation())
    assert decision.accept
    assert "cardshare-prod" in decision.reason


@pytest.mark.parametrize("status", ["ACCEPTED", "REJECTED", "EXPIRED"])
def test_only_pending_invitations(status: str) -> None:
    decision = RULE.decide(invitation(status=status))
    assert not decision.accept
    assert status in decision.reason


@pytest.mark.parametrize(
    "name",
    [
        "cardshare-prod-evil",
        "evil-cardshare-prod",
        "Cardshare-Prod",
        "CARDSHARE-PROD",
        "cardshare-prod ",
        " cardshare-prod",
        "cardshare-prod\n",
        "cardshare-dev",
        "cardshare",
        "",
        f"{MODEL_CARD}-cardshare-prod",
        f"cardshare-prod-from-{MODEL_CARD}",
    ],
)
def test_names_must_match_exactly(name: str) -> None:
    decision = RULE.decide(invitation(name=name))
    assert not decision.accept
    assert "share name" in decision.reason


def test_a_matching_name_from_another_sender_is_ignored() -> None:
    decision = RULE.decide(invitation(sender=OTHER))
    assert not decision.accept
    assert f"sent by account {OTHER}" in decision.reason


def test_the_sender_account_in_the_share_name_does_not_count() -> None:
    assert not RULE.decide(invitation(name=f"cardshare-prod-{MODEL_CARD}", sender=OTHER)).accept
    assert not RULE.decide(invitation(name=MODEL_CARD, sender=OTHER)).accept


def test_a_share_owned_by_another_account_is_ignored_even_if_the_sender_field_says_otherwise() -> None:
    decision = RULE.decide(invitation(share_account=OTHER))
    assert not decision.accept
    assert "resourceShareArn" in decision.reason


def test_a_share_in_another_region_is_ignored() -> None:
    decision = RULE.decide(invitation(region="eu-west-1"))
    assert not decision.accept
    assert "us-east-1" in decision.reason


@pytest.mark.parametrize("field", ["resourceShareArn", "resourceShareInvitationArn", "senderAccountId", "status"])
def test_a_row_missing_a_field_is_ignored(field: str) -> None:
    row = invitation()
    del row[field]
    assert not RULE.decide(row).accept


def test_the_arn_kinds_must_not_be_swapped() -> None:
    row = invitation()
    row["resourceShareArn"], row["resourceShareInvitationArn"] = (
        row["resourceShareInvitationArn"],
        row["resourceShareArn"],
    )
    assert not RULE.decide(row).accept


def test_several_share_names() -> None:
    rule = InvitationRule(MODEL_CARD, REGION, frozenset({"cardshare-dev", "cardshare-test"}))
    assert rule.decide(invitation(name="cardshare-test")).accept
    assert rule.decide(invitation(name="cardshare-dev")).accept
    assert not rule.decide(invitation(name="cardshare-prod")).accept


def configured(prefix: str = "cardshare-prod", slots: str = "1", **others: str) -> dict[str, str]:
    base = {"MODEL_CARD_ACCOUNT_ID": MODEL_CARD, "MODEL_CARD_REGION": REGION}
    return {**base, "ACCEPTED_SHARE_PREFIX": prefix, "ACCEPTED_SHARE_SLOTS": slots, **others}


def test_from_environment_accepts_each_slot_of_the_stage_and_nothing_else() -> None:
    rule = InvitationRule.from_environment(configured(slots="1,2"))
    assert rule.share_names == frozenset({"cardshare-prod-1", "cardshare-prod-2"})
    assert rule.decide(invitation(name="cardshare-prod-2")).accept
    assert not rule.decide(invitation(name="cardshare-prod-3")).accept
    assert not rule.decide(invitation(name="cardshare-prod")).accept


@pytest.mark.parametrize(
    "environ",
    [
        {"MODEL_CARD_REGION": REGION, "ACCEPTED_SHARE_PREFIX": "cardshare-prod", "ACCEPTED_SHARE_SLOTS": "1"},
        configured(MODEL_CARD_ACCOUNT_ID="12345"),
        configured(MODEL_CARD_REGION="Mars"),
        configured(prefix=""),
        configured(slots=""),
        configured(slots="1,,2"),
        configured(slots="1, 2"),
        configured(slots="1,*"),
        {"MODEL_CARD_ACCOUNT_ID": MODEL_CARD, "MODEL_CARD_REGION": REGION, "ACCEPTED_SHARE_NAMES": "cardshare-prod"},
    ],
)
def test_a_malformed_configuration_accepts_nothing(environ: dict[str, str]) -> None:
    with pytest.raises(RuleConfigError):
        InvitationRule.from_environment(environ)
