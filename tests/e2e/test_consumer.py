"""The consumer template deployed into the consumer accounts: the accepter, the IAM policies, prod's guard.

The embedded AWS enforces RAM (who sees which card, and with which actions) but not IAM: the IAM
checks read the deployed policy documents with a small evaluator (iam_documents), which answers
only "does an explicit Deny / an Allow match this action on this ARN".
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e_support import CONSUMERS, card_content, client, consumer, error_code, reach, sagemaker, stack
from iam_documents import actions, decision

from cardshare_local.accounts import DEV_ACCOUNT, EXTERNAL_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.consumer import deploy_consumer
from cardshare_local.deploy import Stack
from cardshare_local.extensions import ram
from cardshare_local.runtime import LocalAws

ROOT = Path(__file__).resolve().parents[2]
EXTERNAL_DEV = {"AllowExternalPrincipals": "true", "devAccountIds": f"{DEV_ACCOUNT},{EXTERNAL_ACCOUNT}"}
KEY = f"arn:aws:kms:us-east-1:{MODEL_CARD_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def invitations(system: LocalAws, account: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The account's received invitations by (sender account, share name)."""
    rows = client(system, "ram", account).get_resource_share_invitations()["resourceShareInvitations"]
    found = {(row["senderAccountId"], row["resourceShareName"]): row for row in rows}
    assert len(found) == len(rows), rows
    return found


def run_accepter(system: LocalAws, deployed: Stack) -> dict[str, Any]:
    """Invoke the account's accepter through its Lambda API, as the schedule would; its result."""
    system.wait_idle()  # the function's credentials are process-wide while it runs (lambda_inprocess)
    response = client(system, "lambda", deployed.account).invoke(
        FunctionName=deployed.outputs["AcceptInvitationsFunctionName"], Payload=b"{}"
    )
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return dict(payload)


def decoy_share(system: LocalAws, owner: str, name: str) -> None:
    """A share in ``owner``'s account that invites the external account."""
    client(system, "ram", owner).create_resource_share(
        name=name, principals=[EXTERNAL_ACCOUNT], allowExternalPrincipals=True
    )


def policy_documents(system: LocalAws, deployed: Stack) -> list[dict[str, Any]]:
    """The deployed customer managed policies of the consumer stack, as IAM stores them."""
    iam = client(system, "iam", deployed.account)
    documents = []
    for name in ("CardAccessPolicyArn", "ProdGuardPolicyArn"):
        if name in deployed.outputs:
            arn = deployed.outputs[name]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            documents.append(json.loads(document) if isinstance(document, str) else document)
    return documents


def readme_table() -> dict[str, tuple[set[str], set[str]]]:
    """The README's table of consumer actions: row label → (allowed, denied by the prod guard)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### What the consumer accounts must do", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in {"dev, test", "prod", "with `CardKmsKeyArns`"}:
            allowed, denied = (set(re.findall(r"`([a-z0-9]+:[A-Za-z]+)`", cell)) for cell in cells[1:])
            rows[cells[0]] = (allowed, denied)
    assert set(rows) == {"dev, test", "prod", "with `CardKmsKeyArns`"}, rows
    return rows


@pytest.mark.parametrize("system", [EXTERNAL_DEV], indirect=True, ids=["external-dev"])
def test_the_accepter_accepts_cardshares_invitation_and_nothing_else(system: LocalAws) -> None:
    deployed = deploy_consumer(system, EXTERNAL_ACCOUNT, "dev", {"AcceptInvitations": "true"})
    arn = str(
        sagemaker(system).create_model_card(
            ModelCardName="Customer-Churn-Model-Card", Content=card_content(), ModelCardStatus="Draft"
        )["ModelCardArn"]
    )
    system.wait_idle()
    # Look-alikes: the right name from another sender, the right sender with wrong names.
    decoy_share(system, TEST_ACCOUNT, "cardshare-dev-1")
    # A slot the consumer was not told about, and the name without a slot, are not ours either.
    decoys = ("cardshare-dev-1-evil", "evil-cardshare-dev-1", "Cardshare-Dev-1", "cardshare-dev-2", "cardshare-dev")
    for name in decoys:
        decoy_share(system, MODEL_CARD_ACCOUNT, name)
    ours = (MODEL_CARD_ACCOUNT, "cardshare-dev-1")
    before = invitations(system, EXTERNAL_ACCOUNT)
    assert set(before) == {
        ours,
        (TEST_ACCOUNT, "cardshare-dev-1"),
        *((MODEL_CARD_ACCOUNT, name) for name in decoys),
    }
    assert {row["status"] for row in before.values()} == {"PENDING"}
    # Nothing is shared with the external account before the accepter runs.
    with pytest.raises(ClientError) as refused:
        consumer(system, EXTERNAL_ACCOUNT).describe_model_card(ModelCardName=arn)
    assert error_code(refused) == "AccessDeniedException"

    first = run_accepter(system, deployed)

    after = invitations(system, EXTERNAL_ACCOUNT)
    accepted = before[ours]["resourceShareInvitationArn"]
    assert first["accepted"] == [accepted]
    assert {key: row["status"] for key, row in after.items()} == {
        key: "ACCEPTED" if key == ours else "PENDING" for key in before
    }
    assert set(first["ignored"]) == {row["resourceShareInvitationArn"] for key, row in before.items() if key != ours}
    assert (
        "not the model-card account"
        in first["ignored"][before[(TEST_ACCOUNT, "cardshare-dev-1")]["resourceShareInvitationArn"]]
    )
    card = consumer(system, EXTERNAL_ACCOUNT).describe_model_card(ModelCardName=arn)
    assert (card["ModelCardArn"], card["ModelCardStatus"]) == (arn, "Draft")

    # A second run changes nothing and fails on nothing.
    second = run_accepter(system, deployed)
    assert second["accepted"] == []
    assert second["ignored"][accepted] == "status is ACCEPTED, not PENDING"
    assert {key: row["status"] for key, row in invitations(system, EXTERNAL_ACCOUNT).items()} == {
        key: row["status"] for key, row in after.items()
    }


@pytest.mark.parametrize("system", [EXTERNAL_DEV], indirect=True, ids=["external-dev"])
def test_the_accepter_rides_out_throttling(system: LocalAws) -> None:
    deployed = deploy_consumer(system, EXTERNAL_ACCOUNT, "dev", {"AcceptInvitations": "true"})
    arn = invitations(system, EXTERNAL_ACCOUNT)[(MODEL_CARD_ACCOUNT, "cardshare-dev-1")]["resourceShareInvitationArn"]
    calls: list[str] = []
    for operation in ("GetResourceShareInvitations", "AcceptResourceShareInvitation"):
        ram.inject_error(operation, "ThrottlingException", times=2)
        for _ in range(3):
            ram.before_next(operation, lambda operation=operation: calls.append(operation))
    assert run_accepter(system, deployed) == {"accepted": [arn], "ignored": {}}
    # Two throttled calls and the one that went through, of each operation.
    assert calls.count("GetResourceShareInvitations") == calls.count("AcceptResourceShareInvitation") == 3
    assert invitations(system, EXTERNAL_ACCOUNT)[(MODEL_CARD_ACCOUNT, "cardshare-dev-1")]["status"] == "ACCEPTED"


@pytest.mark.parametrize("system", [EXTERNAL_DEV], indirect=True, ids=["external-dev"])
def test_a_person_accepting_first_is_not_an_error(system: LocalAws) -> None:
    deployed = deploy_consumer(system, EXTERNAL_ACCOUNT, "dev", {"AcceptInvitations": "true"})
    arn = invitations(system, EXTERNAL_ACCOUNT)[(MODEL_CARD_ACCOUNT, "cardshare-dev-1")]["resourceShareInvitationArn"]
    person = client(system, "ram", EXTERNAL_ACCOUNT, "ml-engineer")
    # Between the accepter's read and its accept, someone accepts in the console.
    ram.before_next(
        "AcceptResourceShareInvitation", lambda: person.accept_resource_share_invitation(resourceShareInvitationArn=arn)
    )
    assert run_accepter(system, deployed) == {"accepted": [], "ignored": {arn: "already accepted"}}
    assert invitations(system, EXTERNAL_ACCOUNT)[(MODEL_CARD_ACCOUNT, "cardshare-dev-1")]["status"] == "ACCEPTED"


@stack()
def test_consumer_policies_match_the_readme_and_prod_is_read_only_twice(system: LocalAws) -> None:
    deployed = {stage: deploy_consumer(system, account, stage) for stage, account in CONSUMERS.items()}
    table = readme_table()
    arn = reach(system, "Customer-Churn-Model-Card", "Draft", "PendingReview", "Approved")

    for stage in ("dev", "test"):
        documents = policy_documents(system, deployed[stage])
        assert len(documents) == 1  # no guard outside prod
        assert actions(documents, "Allow") == table["dev, test"][0]
        assert actions(documents, "Deny") == table["dev, test"][1] == set()
        for action in table["dev, test"][0]:
            assert decision(documents, action, arn) == "allowed", (stage, action)
        # Scoped to the model-card account's cards.
        other = arn.replace(MODEL_CARD_ACCOUNT, TEST_ACCOUNT)
        assert decision(documents, "sagemaker:UpdateModelCard", other) == "implicit-deny"
        assert not any("kms:" in json.dumps(d) for d in documents)  # no keys given

    prod = policy_documents(system, deployed["prod"])
    assert len(prod) == 2
    assert actions(prod, "Allow") == table["prod"][0]
    assert actions(prod, "Deny") == table["prod"][1]
    assert decision(prod, "sagemaker:DescribeModelCard", arn) == "allowed"
    assert decision(prod, "sagemaker:UpdateModelCard", arn) == "denied"
    # Even if someone attached a policy allowing everything, the explicit Deny wins.
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    for action in table["prod"][1]:
        assert decision([*prod, everything], action, arn) == "denied", action
    # The guard covers the model-card account's cards in every region.
    assert decision(prod, "sagemaker:UpdateModelCard", arn.replace("us-east-1", "eu-west-1")) == "denied"

    # And RAM, which the embedded AWS does enforce, refuses prod's update on its own.
    with pytest.raises(ClientError) as refused:
        consumer(system, PROD_ACCOUNT).update_model_card(ModelCardName=arn, ModelCardStatus="Archived")
    assert error_code(refused) == "AccessDeniedException"
    assert consumer(system, PROD_ACCOUNT).describe_model_card(ModelCardName=arn)["ModelCardStatus"] == "Approved"


def test_kms_statement_only_with_keys_and_write_actions_only_outside_prod(system: LocalAws) -> None:
    kms = readme_table()["with `CardKmsKeyArns`"][0]
    for stage, account in CONSUMERS.items():
        deployed = deploy_consumer(system, account, stage, {"CardKmsKeyArns": KEY})
        [statement] = [
            s
            for d in policy_documents(system, deployed)
            for s in d["Statement"]
            if s.get("Sid") == "DecryptCardsThroughSageMaker"
        ]
        expected = {"kms:Decrypt"} if stage == "prod" else kms
        assert set(statement["Action"]) == expected, stage
        assert statement["Resource"] == [KEY]
        assert statement["Condition"] == {"StringEquals": {"kms:ViaService": "sagemaker.us-east-1.amazonaws.com"}}
    assert kms == {"kms:Decrypt", "kms:GenerateDataKey"}


def test_the_policies_are_attached_to_the_named_roles(system: LocalAws) -> None:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": PROD_ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    iam = client(system, "iam", PROD_ACCOUNT)
    for role in ("ml-engineer", "analyst"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    deployed = deploy_consumer(system, PROD_ACCOUNT, "prod", {"RoleNames": "ml-engineer,analyst"})
    expected = {deployed.outputs["CardAccessPolicyArn"], deployed.outputs["ProdGuardPolicyArn"]}
    for role in ("ml-engineer", "analyst"):
        attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        assert {policy["PolicyArn"] for policy in attached} == expected


def test_the_policy_reader_itself() -> None:
    card = f"arn:aws:sagemaker:us-east-1:{MODEL_CARD_ACCOUNT}:model-card/Churn"
    allow = {"Statement": [{"Effect": "Allow", "Action": "sagemaker:Describe*", "Resource": "*:model-card/*"}]}
    deny = {"Statement": {"Effect": "Deny", "Action": ["SageMaker:updatemodelcard"], "Resource": "arn:aws:*"}}
    assert decision([allow], "sagemaker:DescribeModelCard", card) == "allowed"
    assert decision([allow], "sagemaker:UpdateModelCard", card) == "implicit-deny"
    assert decision([allow, deny], "sagemaker:UpdateModelCard", card) == "denied"  # actions ignore case
    assert decision([deny], "sagemaker:UpdateModelCard", card.replace("arn:aws:", "ARN:AWS:")) == "implicit-deny"
    conditional = {"Statement": [{"Effect": "Deny", "Action": "sagemaker:*", "Resource": "*", "Condition": {}}]}
    with pytest.raises(NotImplementedError):
        decision([conditional], "sagemaker:UpdateModelCard", card)
