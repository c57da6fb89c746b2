"""Smoke tests of the RAM extension: each fails on stock moto 5.2.5 or if an upgrade breaks a patch."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from cardshare_local.accounts import (
    DEV_ACCOUNT,
    EXTERNAL_ACCOUNT,
    MODEL_CARD_ACCOUNT,
    ORGANIZATION_ID,
    ORGANIZATION_MEMBERS,
    PROD_ACCOUNT,
    REGION,
    TEST_ACCOUNT,
    session_for,
)
from cardshare_local.extensions import ram as ram_ext

CARD = f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/example-card"
ORG_ARN = f"arn:aws:organizations::{MODEL_CARD_ACCOUNT}:organization/{ORGANIZATION_ID}"
NO_RETRY = Config(retries={"total_max_attempts": 1})
EXPORT = ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        ram_ext.install()
        ram_ext.reset()
        yield
    ram_ext.reset()


@pytest.fixture
def org(aws: None) -> None:
    ram_ext.configure_organization(MODEL_CARD_ACCOUNT, ORGANIZATION_ID, ORGANIZATION_MEMBERS)


def owner_ram(**kwargs: Any) -> Any:
    return boto3.client("ram", region_name=REGION, **kwargs)


def ram_of(account: str) -> Any:
    return session_for(account).client("ram")


def card(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{name}"


def share(client: Any, name: str = "cards", **kwargs: Any) -> str:
    return str(client.create_resource_share(name=name, **kwargs)["resourceShare"]["resourceShareArn"])


def statuses(client: Any, share_arn: str, kind: str = "RESOURCE") -> dict[str, str]:
    rows = client.get_resource_share_associations(associationType=kind, resourceShareArns=[share_arn])
    return {r["associatedEntity"]: r["status"] for r in rows["resourceShareAssociations"]}


def error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return str(excinfo.value.response["Error"]["Code"])


def test_share_accepts_model_card_and_keeps_permissions(aws: None) -> None:
    client = owner_ram()
    chosen = share(
        client,
        "export",
        resourceArns=[CARD],
        permissionArns=[ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN],
        allowExternalPrincipals=False,
    )
    default = share(client, "default", resourceArns=[CARD])

    def permissions(arn: str) -> list[str]:
        return [p["arn"] for p in client.list_resource_share_permissions(resourceShareArn=arn)["permissions"]]

    assert permissions(chosen) == [ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN]
    assert permissions(default) == [ram_ext.MODEL_CARD_PERMISSION_ARN]
    shares = {s["resourceShareArn"]: s for s in client.get_resource_shares(resourceOwner="SELF")["resourceShares"]}
    assert shares[chosen]["allowExternalPrincipals"] is False
    types = [t["resourceType"] for t in client.list_resource_types()["resourceTypes"]]
    assert ram_ext.MODEL_CARD_RESOURCE_TYPE in types
    managed = client.list_permissions(resourceType="sagemaker:ModelCard", permissionType="AWS")["permissions"]
    assert {p["arn"] for p in managed} == {ram_ext.MODEL_CARD_PERMISSION_ARN, ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN}


def test_org_member_associated_at_once_without_invitation(org: None) -> None:
    client = owner_ram()
    arn = share(client, principals=[DEV_ACCOUNT, ORG_ARN], allowExternalPrincipals=False)
    assert statuses(client, arn, "PRINCIPAL") == {DEV_ACCOUNT: "ASSOCIATED", ORG_ARN: "ASSOCIATED"}
    assert ram_of(DEV_ACCOUNT).get_resource_share_invitations()["resourceShareInvitations"] == []


def test_external_principal_refused_when_share_disallows_it(aws: None) -> None:
    # Without an organization every account is outside.
    with pytest.raises(ClientError) as excinfo:
        share(owner_ram(), principals=[DEV_ACCOUNT], allowExternalPrincipals=False)
    assert error_code(excinfo) == "InvalidParameterException"
    assert owner_ram().get_resource_shares(resourceOwner="SELF")["resourceShares"] == []


def test_external_account_invitation_accept_and_list_resources(org: None) -> None:
    client = owner_ram()
    arn = share(client, resourceArns=[CARD], principals=[EXTERNAL_ACCOUNT])
    statuses(client, arn)  # ASSOCIATING
    assert statuses(client, arn) == {CARD: "ASSOCIATED"}
    row = client.get_resource_share_associations(associationType="PRINCIPAL", resourceShareArns=[arn])[
        "resourceShareAssociations"
    ][0]
    assert (row["associatedEntity"], row["status"], row["external"]) == (EXTERNAL_ACCOUNT, "ASSOCIATING", True)

    external = ram_of(EXTERNAL_ACCOUNT)
    invitations = external.get_resource_share_invitations()["resourceShareInvitations"]
    assert [(i["resourceShareArn"], i["status"], i["senderAccountId"]) for i in invitations] == [
        (arn, "PENDING", MODEL_CARD_ACCOUNT)
    ]
    assert external.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"] == []
    assert ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, CARD, EXTERNAL_ACCOUNT) == frozenset()

    invitation_arn = invitations[0]["resourceShareInvitationArn"]
    accepted = external.accept_resource_share_invitation(resourceShareInvitationArn=invitation_arn)
    assert accepted["resourceShareInvitation"]["status"] == "ACCEPTED"
    assert statuses(client, arn, "PRINCIPAL") == {EXTERNAL_ACCOUNT: "ASSOCIATED"}
    resources = external.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]
    assert [(r["arn"], r["type"], r["resourceShareArn"]) for r in resources] == [(CARD, "sagemaker:ModelCard", arn)]
    others = external.get_resource_shares(resourceOwner="OTHER-ACCOUNTS")["resourceShares"]
    assert [s["resourceShareArn"] for s in others] == [arn]
    with pytest.raises(ClientError) as excinfo:
        external.accept_resource_share_invitation(resourceShareInvitationArn=invitation_arn)
    assert error_code(excinfo) == "ResourceShareInvitationAlreadyAcceptedException"


def test_rejected_invitation_grants_nothing(org: None) -> None:
    client = owner_ram()
    arn = share(client, resourceArns=[CARD], principals=[EXTERNAL_ACCOUNT])
    ram_ext.settle()
    external = ram_of(EXTERNAL_ACCOUNT)
    invitation = external.get_resource_share_invitations()["resourceShareInvitations"][0]
    external.reject_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
    assert statuses(client, arn, "PRINCIPAL") == {EXTERNAL_ACCOUNT: "DISASSOCIATED"}
    assert external.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"] == []


def test_associate_is_associating_then_associated_on_next_read(org: None) -> None:
    client = owner_ram()
    arn = share(client, principals=[DEV_ACCOUNT])
    response = client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert [r["status"] for r in response["resourceShareAssociations"]] == ["ASSOCIATING"]
    assert ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, CARD, DEV_ACCOUNT) == frozenset()
    assert statuses(client, arn) == {CARD: "ASSOCIATING"}
    assert statuses(client, arn) == {CARD: "ASSOCIATED"}
    assert "sagemaker:DescribeModelCard" in ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, CARD, DEV_ACCOUNT)


def test_disassociate_lifecycle_keeps_disassociated_rows(org: None) -> None:
    client = owner_ram()
    arn = share(client, resourceArns=[CARD], principals=[DEV_ACCOUNT])
    ram_ext.settle()
    before = client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])
    response = client.disassociate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert [r["status"] for r in response["resourceShareAssociations"]] == ["DISASSOCIATING"]
    assert ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, CARD, DEV_ACCOUNT) == frozenset()
    assert statuses(client, arn) == {CARD: "DISASSOCIATING"}
    after = client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])
    row = after["resourceShareAssociations"][0]
    assert row["status"] == "DISASSOCIATED"
    assert row["lastUpdatedTime"] > before["resourceShareAssociations"][0]["lastUpdatedTime"]
    assert statuses(client, arn) == {CARD: "DISASSOCIATED"}


def test_invalid_state_transitions(org: None) -> None:
    client = owner_ram()
    arn = share(client, resourceArns=[CARD])
    with pytest.raises(ClientError) as excinfo:
        client.disassociate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert error_code(excinfo) == "InvalidStateTransitionException"
    ram_ext.settle()
    client.disassociate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert error_code(excinfo) == "InvalidStateTransitionException"
    ram_ext.settle()
    again = client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert [r["status"] for r in again["resourceShareAssociations"]] == ["ASSOCIATING"]


def test_unknown_share_is_unknown_resource(aws: None) -> None:
    bogus = f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:resource-share/00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as excinfo:
        owner_ram().associate_resource_share(resourceShareArn=bogus, resourceArns=[CARD])
    assert error_code(excinfo) == "UnknownResourceException"


def test_client_token_replays_and_detects_mismatch(aws: None) -> None:
    client = owner_ram()
    arn = share(client)
    first = client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD], clientToken="token-1")
    replay = client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD], clientToken="token-1")
    assert replay["resourceShareAssociations"] == first["resourceShareAssociations"]
    assert replay["clientToken"] == "token-1"
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("other")], clientToken="token-1")
    assert error_code(excinfo) == "IdempotentParameterMismatchException"
    assert list(statuses(client, arn)) == [CARD]


def test_associations_paginate_with_boto3_paginator(aws: None) -> None:
    client = owner_ram()
    arn = share(client)
    cards = [card(f"card-{i}") for i in range(3)]
    client.associate_resource_share(resourceShareArn=arn, resourceArns=cards)
    first = client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn], maxResults=1)
    assert len(first["resourceShareAssociations"]) == 1
    assert first["nextToken"]
    pages = list(
        client.get_paginator("get_resource_share_associations").paginate(
            associationType="RESOURCE", resourceShareArns=[arn], PaginationConfig={"PageSize": 1}
        )
    )
    assert [len(p["resourceShareAssociations"]) for p in pages] == [1, 1, 1]
    assert [p["resourceShareAssociations"][0]["associatedEntity"] for p in pages] == cards


def test_throttling_injection_is_a_throttling_client_error(aws: None) -> None:
    arn = share(owner_ram())
    ram_ext.inject_error("AssociateResourceShare", "ThrottlingException", message="Rate exceeded")
    with pytest.raises(ClientError) as excinfo:
        owner_ram(config=NO_RETRY).associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert error_code(excinfo) == "ThrottlingException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    # botocore classifies it as throttling: a default client retries it transparently.
    ram_ext.inject_error("AssociateResourceShare", "ThrottlingException")
    retried = owner_ram().associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert retried["ResponseMetadata"]["RetryAttempts"] == 1


def test_failed_association_carries_status_message(aws: None) -> None:
    client = owner_ram()
    arn = share(client)
    ram_ext.fail_next_association("Resource is not shareable")
    client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert statuses(client, arn) == {CARD: "ASSOCIATING"}
    row = client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])[
        "resourceShareAssociations"
    ][0]
    assert (row["status"], row["statusMessage"]) == ("FAILED", "Resource is not shareable")
    again = client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
    assert [r["status"] for r in again["resourceShareAssociations"]] == ["ASSOCIATING"]


def test_shared_actions_for_managed_and_customer_permissions(org: None) -> None:
    client = owner_ram()
    template = {"Effect": "Allow", "Action": ["sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions"]}
    permission = client.create_permission(
        name="model-card-read-only", resourceType="sagemaker:ModelCard", policyTemplate=json.dumps(template)
    )["permission"]
    assert permission["arn"] == f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:permission/model-card-read-only"
    assert json.loads(client.get_permission(permissionArn=permission["arn"])["permission"]["permission"]) == template
    local = client.list_permissions(permissionType="LOCAL")["permissions"]
    assert [p["arn"] for p in local] == [permission["arn"]]

    share(client, "dev", resourceArns=[CARD], principals=[DEV_ACCOUNT])
    share(client, "test", resourceArns=[CARD], principals=[TEST_ACCOUNT], permissionArns=[EXPORT])
    share(client, "prod", resourceArns=[CARD], principals=[PROD_ACCOUNT], permissionArns=[permission["arn"]])
    share(client, "org", resourceArns=[card("org-wide")], principals=[ORG_ARN])
    ram_ext.settle()

    def actions(account: str, resource: str = CARD) -> frozenset[str]:
        return ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, resource, account)

    assert actions(DEV_ACCOUNT) == ram_ext.MANAGED_PERMISSION_ACTIONS[ram_ext.MODEL_CARD_PERMISSION_ARN]
    assert actions(TEST_ACCOUNT) == ram_ext.MANAGED_PERMISSION_ACTIONS[EXPORT]
    assert "sagemaker:CreateModelCardExportJob" in actions(TEST_ACCOUNT)
    assert actions(PROD_ACCOUNT) == frozenset(template["Action"])
    assert actions(EXTERNAL_ACCOUNT) == frozenset()
    assert actions(DEV_ACCOUNT, card("unshared")) == frozenset()
    # An organization principal covers every member, and nobody outside.
    assert "sagemaker:UpdateModelCard" in actions(PROD_ACCOUNT, card("org-wide"))
    assert actions(EXTERNAL_ACCOUNT, card("org-wide")) == frozenset()


def test_customer_permission_alone_is_read_only(org: None) -> None:
    client = owner_ram()
    template = {"Effect": "Allow", "Action": ["sagemaker:DescribeModelCard"]}
    arn = client.create_permission(name="ro", resourceType="sagemaker:ModelCard", policyTemplate=json.dumps(template))[
        "permission"
    ]["arn"]
    share(client, resourceArns=[CARD], principals=[PROD_ACCOUNT], permissionArns=[arn])
    ram_ext.settle()
    assert ram_ext.shared_actions(MODEL_CARD_ACCOUNT, REGION, CARD, PROD_ACCOUNT) == {"sagemaker:DescribeModelCard"}


def test_through_threaded_moto_server() -> None:
    ram_ext.install()  # before the server builds its RAM URL map
    ram_ext.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
        ram_ext.configure_organization(MODEL_CARD_ACCOUNT, ORGANIZATION_ID, ORGANIZATION_MEMBERS)
        client = boto3.client("ram", region_name=REGION, endpoint_url=url, config=NO_RETRY)
        arn = share(client, principals=[EXTERNAL_ACCOUNT])
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
        assert statuses(client, arn) == {CARD: "ASSOCIATING"}
        assert statuses(client, arn) == {CARD: "ASSOCIATED"}

        external = session_for(EXTERNAL_ACCOUNT, endpoint_url=url).client("ram", endpoint_url=url)
        invitation = external.get_resource_share_invitations()["resourceShareInvitations"][0]
        external.accept_resource_share_invitation(resourceShareInvitationArn=invitation["resourceShareInvitationArn"])
        assert [r["arn"] for r in external.list_resources(resourceOwner="OTHER-ACCOUNTS")["resources"]] == [CARD]
        assert "sagemaker:DescribeModelCard" in ram_ext.shared_actions(
            MODEL_CARD_ACCOUNT, REGION, CARD, EXTERNAL_ACCOUNT
        )

        ram_ext.inject_error("DisassociateResourceShare", "ThrottlingException")
        with pytest.raises(ClientError) as excinfo:
            client.disassociate_resource_share(resourceShareArn=arn, resourceArns=[CARD])
        assert error_code(excinfo) == "ThrottlingException"
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    finally:
        server.stop()
        ram_ext.reset()


def test_associations_come_in_pages_of_at_most_500_like_aws(aws: None) -> None:
    # Stock moto (and this extension before) returned every row in one page without maxResults, so a
    # reconciler looked like one call at any fleet size.
    client = owner_ram(config=NO_RETRY)
    arn = share(client)
    for start in range(0, 501, 100):
        client.associate_resource_share(
            resourceShareArn=arn, resourceArns=[card(f"c{i}") for i in range(start, min(start + 100, 501))]
        )
    first = client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn])
    assert len(first["resourceShareAssociations"]) == ram_ext.MAX_PAGE == 500
    rest = client.get_resource_share_associations(
        associationType="RESOURCE", resourceShareArns=[arn], nextToken=first["nextToken"]
    )
    assert len(rest["resourceShareAssociations"]) == 1
    assert "nextToken" not in rest
    with pytest.raises(ClientError) as excinfo:
        client.get_resource_share_associations(associationType="RESOURCE", resourceShareArns=[arn], maxResults=501)
    assert error_code(excinfo) == "InvalidParameterException"


# ---- the quota of resource associations per share --------------------------------------------------


def test_a_full_share_refuses_another_resource_as_ram_does(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ram_ext, "RESOURCES_PER_SHARE", 3)
    client = owner_ram()
    arn, other = share(client, "cards"), share(client, "more-cards")
    held = [card(f"held-{i}") for i in range(3)]
    client.associate_resource_share(resourceShareArn=arn, resourceArns=held[:2])
    client.associate_resource_share(resourceShareArn=arn, resourceArns=held[2:])
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("one-too-many")])
    assert error_code(excinfo) == "ResourceShareLimitExceededException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = excinfo.value.response["Error"]["Message"]
    assert arn in message
    assert "limit of 3 resource associations" in message
    assert card("one-too-many") not in statuses(client, arn)
    # A resource the share already holds is not a new association; another share has its own quota.
    client.associate_resource_share(resourceShareArn=arn, resourceArns=[held[0]])
    client.associate_resource_share(resourceShareArn=other, resourceArns=[card("one-too-many")])
    # Freed room is room again once the association is gone.
    ram_ext.settle()
    client.disassociate_resource_share(resourceShareArn=arn, resourceArns=[held[0]])
    ram_ext.settle()
    client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("one-too-many")])
    ram_ext.settle()
    assert statuses(client, arn) == {
        held[0]: "DISASSOCIATED",
        held[1]: "ASSOCIATED",
        held[2]: "ASSOCIATED",
        card("one-too-many"): "ASSOCIATED",
    }


def test_a_batch_crossing_the_quota_associates_none_of_its_resources(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ram_ext, "RESOURCES_PER_SHARE", 2)
    client = owner_ram()
    arn = share(client)
    client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("first")])
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("second"), card("third")])
    assert error_code(excinfo) == "ResourceShareLimitExceededException"
    assert set(statuses(client, arn)) == {card("first")}


def test_the_quota_comes_from_the_environment_and_defaults_to_5000(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ram_ext, "RESOURCES_PER_SHARE", None)
    monkeypatch.delenv(ram_ext.RESOURCES_PER_SHARE_VARIABLE, raising=False)
    client = owner_ram()
    arn = share(client)
    for start in range(0, 5000, 100):  # RAM takes up to 100 resources per call
        client.associate_resource_share(
            resourceShareArn=arn, resourceArns=[card(f"c{i}") for i in range(start, start + 100)]
        )
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=arn, resourceArns=[card("c5000")])
    assert "limit of 5000 resource associations" in excinfo.value.response["Error"]["Message"]

    monkeypatch.setenv(ram_ext.RESOURCES_PER_SHARE_VARIABLE, "1")
    small = share(client, "small")
    client.associate_resource_share(resourceShareArn=small, resourceArns=[card("only")])
    with pytest.raises(ClientError) as excinfo:
        client.associate_resource_share(resourceShareArn=small, resourceArns=[card("second")])
    assert error_code(excinfo) == "ResourceShareLimitExceededException"


@pytest.mark.parametrize("value", ["0", "-1", "many", "2.5"])
def test_a_bad_quota_in_the_environment_is_refused_by_name(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setattr(ram_ext, "RESOURCES_PER_SHARE", None)
    monkeypatch.setenv(ram_ext.RESOURCES_PER_SHARE_VARIABLE, value)
    with pytest.raises(ValueError, match=ram_ext.RESOURCES_PER_SHARE_VARIABLE):
        ram_ext.resources_per_share()
