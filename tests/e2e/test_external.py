"""A consumer account outside the organization sees nothing until it accepts the RAM invitation."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from e2e_support import (
    Executions,
    assert_associations,
    assert_consumers,
    assert_succeeded,
    card_content,
    client,
    consumer,
    error_code,
    ladder_access,
    sagemaker,
)

from cardshare_local.accounts import DEV_ACCOUNT, EXTERNAL_ACCOUNT, MODEL_CARD_ACCOUNT
from cardshare_local.runtime import LocalAws, local_aws

EXTERNAL_DEV = {"AllowExternalPrincipals": "true", "devAccountIds": f"{DEV_ACCOUNT},{EXTERNAL_ACCOUNT}"}


def create(system: LocalAws, name: str) -> str:
    """The lead creates a complete card in Draft; returns its ARN."""
    return str(
        sagemaker(system).create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus="Draft")[
            "ModelCardArn"
        ]
    )


def shared_with_me(system: LocalAws, account: str) -> list[str]:
    """Resources other accounts share with ``account``, as its RAM console lists them."""
    resources = client(system, "ram", account).list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]
    return sorted(r["arn"] for r in resources)


@pytest.mark.parametrize("system", [EXTERNAL_DEV], indirect=True, ids=["external-dev"])
def test_external_account_sees_nothing_until_it_accepts_the_invitation(system: LocalAws) -> None:
    watch = Executions(system)
    arn = create(system, "Customer-Churn-Model-Card")
    assert_succeeded(watch.new(), added={"dev"}, status="Draft")
    assert ladder_access(system, "Draft")[EXTERNAL_ACCOUNT] == "read-write"

    # RAM holds the card for the dev share, the organization's dev account reads it at once...
    assert_associations(system, arn, {"dev"})
    assert_consumers(system, arn, {DEV_ACCOUNT: "read-write"})
    # ...but the external account gets nothing before it accepts.
    assert_consumers(system, arn, {EXTERNAL_ACCOUNT: "none"})
    assert shared_with_me(system, EXTERNAL_ACCOUNT) == []

    ram = client(system, "ram", EXTERNAL_ACCOUNT)
    [invitation] = ram.get_resource_share_invitations()["resourceShareInvitations"]
    assert invitation["resourceShareArn"] == system.share_arns["dev"]
    assert (invitation["senderAccountId"], invitation["receiverAccountId"]) == (MODEL_CARD_ACCOUNT, EXTERNAL_ACCOUNT)
    assert invitation["status"] == "PENDING"
    accepted = ram.accept_resource_share_invitation(
        resourceShareInvitationArn=invitation["resourceShareInvitationArn"]
    )["resourceShareInvitation"]
    assert accepted["status"] == "ACCEPTED"

    assert shared_with_me(system, EXTERNAL_ACCOUNT) == [arn]
    assert_consumers(system, arn, {EXTERNAL_ACCOUNT: "read-write"})
    card = consumer(system, EXTERNAL_ACCOUNT).describe_model_card(ModelCardName=arn)
    assert card["ModelCardStatus"] == "Draft"

    # Cards shared later need no new invitation.
    later = create(system, "Fraud-Model-Card")
    assert_succeeded(watch.new(), added={"dev"}, status="Draft")
    assert ram.get_resource_share_invitations()["resourceShareInvitations"] == [accepted]
    assert shared_with_me(system, EXTERNAL_ACCOUNT) == sorted([arn, later])
    assert_consumers(system, later, {EXTERNAL_ACCOUNT: "read-write", DEV_ACCOUNT: "read-write"})


def test_external_principal_without_allow_external_principals_fails_the_deploy() -> None:
    with pytest.raises(ClientError) as refused, local_aws({"devAccountIds": f"{DEV_ACCOUNT},{EXTERNAL_ACCOUNT}"}):
        pytest.fail("the stack deployed with an external principal and AllowExternalPrincipals=false")
    assert error_code(refused) == "InvalidParameterException"
    message = str(refused.value)
    assert EXTERNAL_ACCOUNT in message
    assert "not in your AWS organization" in message
    assert "CreateResourceShare" in message
