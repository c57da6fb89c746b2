"""Smoke tests of the identities in model cards' CreatedBy/LastModifiedBy (sagemaker_cards + sts_source_identity).

Stock moto 5.2.5 drops SourceIdentity on AssumeRole and knows no Studio user: each test fails without
the extensions.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cardshare_local.accounts import MODEL_CARD_ACCOUNT, REGION, session_for, studio_session
from cardshare_local.extensions import eventbridge_targets, sagemaker_cards, sts_default_caller, sts_source_identity

CONTENT = {"model_overview": {"model_id": "churn-model"}}
DOMAIN = "d-abc123def456"
ROLE = "ml-engineer"
STUDIO_ROLE = "studio-execution"


def _install() -> None:
    sts_source_identity.install()
    sts_default_caller.install()
    sagemaker_cards.install()
    eventbridge_targets.install()  # moto's own SQS delivery drops the event's "account"


@pytest.fixture
def aws() -> Iterator[None]:
    _install()
    with mock_aws():
        yield


@pytest.fixture
def card_events() -> str:
    """A queue that receives every "SageMaker Model Card State Change" of the model-card account."""
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="card-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="cards", EventPattern=json.dumps({"detail-type": [sagemaker_cards.DETAIL_TYPE]}))
    events.put_targets(Rule="cards", Targets=[{"Id": "q", "Arn": queue_arn}])
    return queue_url


def _details(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs", region_name=REGION).receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"])["detail"] for m in messages.get("Messages", [])]


def _create(sm: Any, name: str = "churn") -> str:
    return sm.create_model_card(ModelCardName=name, Content=json.dumps(CONTENT), ModelCardStatus="Draft")[
        "ModelCardArn"
    ]


def _assumed(role: str, session: str, account: str = MODEL_CARD_ACCOUNT) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def _profile_arn(profile: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:user-profile/{DOMAIN}/{profile}"


def test_source_identity_in_describe_and_events(aws: None, card_events: str) -> None:
    # Two people behind one role and one session name: only SourceIdentity tells them apart.
    alice = session_for(MODEL_CARD_ACCOUNT, ROLE, source_identity="alice").client("sagemaker")
    bob = session_for(MODEL_CARD_ACCOUNT, ROLE, source_identity="bob").client("sagemaker")
    arn = _create(alice)
    bob.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")

    card = alice.describe_model_card(ModelCardName=arn)
    assert card["CreatedBy"]["IamIdentity"]["SourceIdentity"] == "alice"
    assert card["LastModifiedBy"]["IamIdentity"]["SourceIdentity"] == "bob"
    assert card["CreatedBy"]["IamIdentity"]["Arn"] == card["LastModifiedBy"]["IamIdentity"]["Arn"]
    assert card["CreatedBy"]["IamIdentity"]["Arn"] == _assumed(ROLE, ROLE)

    created, reviewed = _details(card_events)
    assert created["CreatedBy"]["IamIdentity"]["SourceIdentity"] == "alice"
    assert created["LastModifiedBy"]["IamIdentity"]["SourceIdentity"] == "alice"
    assert reviewed["CreatedBy"]["IamIdentity"]["SourceIdentity"] == "alice"
    assert reviewed["LastModifiedBy"]["IamIdentity"]["SourceIdentity"] == "bob"


def test_assume_role_returns_and_chains_source_identity(aws: None) -> None:
    sts = boto3.client("sts", region_name=REGION)
    answer = sts.assume_role(
        RoleArn=f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/{ROLE}", RoleSessionName="s1", SourceIdentity="alice"
    )
    assert answer["SourceIdentity"] == "alice"
    creds = answer["Credentials"]
    first = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )
    # Role chaining keeps the source identity, and it cannot be changed.
    chained = first.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/approver", RoleSessionName="s2"
    )
    assert chained["SourceIdentity"] == "alice"
    with pytest.raises(ClientError) as excinfo:
        first.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/approver", RoleSessionName="s3", SourceIdentity="bob"
        )
    assert excinfo.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(ClientError):
        sts.assume_role(
            RoleArn=f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/{ROLE}", RoleSessionName="s4", SourceIdentity="aws:x"
        )


def test_no_source_identity_key_without_one(aws: None, card_events: str) -> None:
    session = session_for(MODEL_CARD_ACCOUNT, ROLE)
    sm = session.client("sagemaker")
    arn = _create(sm)
    sm.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    card = sm.describe_model_card(ModelCardName=arn)
    (detail, _) = _details(card_events)
    for context in (card["CreatedBy"], card["LastModifiedBy"], detail["CreatedBy"], detail["LastModifiedBy"]):
        # An IAM caller outside Studio: no user profile keys, and no SourceIdentity.
        assert set(context) == {"IamIdentity"}
        assert set(context["IamIdentity"]) == {"Arn", "PrincipalId"}
    # The principal id stays pinned per access key: one caller, equal contexts.
    assert card["CreatedBy"] == card["LastModifiedBy"]
    caller = session.client("sts").get_caller_identity()
    assert card["CreatedBy"]["IamIdentity"]["Arn"] == caller["Arn"]


def test_studio_user_context(aws: None, card_events: str) -> None:
    sm = studio_session(MODEL_CARD_ACCOUNT, DOMAIN, "alice", STUDIO_ROLE).client("sagemaker")
    arn = _create(sm)
    card = sm.describe_model_card(ModelCardName=arn)
    (detail,) = _details(card_events)
    for context in (card["CreatedBy"], card["LastModifiedBy"], detail["CreatedBy"], detail["LastModifiedBy"]):
        assert context["DomainId"] == DOMAIN
        assert context["UserProfileName"] == "alice"
        assert context["UserProfileArn"] == _profile_arn("alice")
        assert context["IamIdentity"]["Arn"] == _assumed(STUDIO_ROLE, "SageMaker")
        assert context["IamIdentity"]["PrincipalId"].endswith(":SageMaker")
        assert "SourceIdentity" not in context["IamIdentity"]


def test_two_studio_profiles_on_one_role(aws: None) -> None:
    alice = studio_session(MODEL_CARD_ACCOUNT, DOMAIN, "alice", STUDIO_ROLE).client("sagemaker")
    bob = studio_session(MODEL_CARD_ACCOUNT, DOMAIN, "bob", STUDIO_ROLE).client("sagemaker")
    arn = _create(alice)
    bob.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    card = alice.describe_model_card(ModelCardName=arn)
    created, modified = card["CreatedBy"], card["LastModifiedBy"]
    assert (created["UserProfileArn"], modified["UserProfileArn"]) == (_profile_arn("alice"), _profile_arn("bob"))
    assert (created["UserProfileName"], modified["UserProfileName"]) == ("alice", "bob")
    assert created["IamIdentity"]["Arn"] == modified["IamIdentity"]["Arn"] == _assumed(STUDIO_ROLE, "SageMaker")


def test_session_name_sets_the_assumed_role_arn(aws: None) -> None:
    alice = session_for(MODEL_CARD_ACCOUNT, ROLE, session_name="alice").client("sagemaker")
    bob = session_for(MODEL_CARD_ACCOUNT, ROLE, session_name="bob").client("sagemaker")
    arn = _create(alice)
    bob.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    card = alice.describe_model_card(ModelCardName=arn)
    assert card["CreatedBy"]["IamIdentity"]["Arn"] == _assumed(ROLE, "alice")
    assert card["LastModifiedBy"]["IamIdentity"]["Arn"] == _assumed(ROLE, "bob")
    assert card["LastModifiedBy"]["IamIdentity"]["PrincipalId"].endswith(":bob")


def test_malformed_studio_header_is_rejected(aws: None) -> None:
    # Arguments swapped: the profile name is not a DomainId.
    sm = studio_session(MODEL_CARD_ACCOUNT, "alice", DOMAIN, STUDIO_ROLE).client("sagemaker")
    with pytest.raises(ClientError) as excinfo:
        _create(sm)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_identities_under_threaded_moto_server() -> None:
    from moto.server import ThreadedMotoServer

    _install()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        studio = studio_session(MODEL_CARD_ACCOUNT, DOMAIN, "alice", STUDIO_ROLE, endpoint_url=url)
        reviewer = session_for(MODEL_CARD_ACCOUNT, ROLE, url, source_identity="bob")
        arn = _create(studio.client("sagemaker", endpoint_url=url), name="served")
        reviewer.client("sagemaker", endpoint_url=url).update_model_card(ModelCardName=arn, ModelCardStatus="Approved")
        card = reviewer.client("sagemaker", endpoint_url=url).describe_model_card(ModelCardName=arn)
        assert card["CreatedBy"]["UserProfileArn"] == _profile_arn("alice")
        assert card["CreatedBy"]["IamIdentity"]["Arn"] == _assumed(STUDIO_ROLE, "SageMaker")
        assert "UserProfileArn" not in card["LastModifiedBy"]
        assert card["LastModifiedBy"]["IamIdentity"]["SourceIdentity"] == "bob"
    finally:
        server.stop()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # the server shares this process's backends


def test_a_caller_with_long_term_keys_is_an_iam_user_as_aws_names_it(aws: None) -> None:
    """moto calls the default keys' caller arn:aws:sts::<account>:user/moto; AWS's ARN of a user is IAM's."""
    caller = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert caller == f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:user/moto"
    client = boto3.client("sagemaker", region_name=REGION)
    client.create_model_card(ModelCardName="keys", ModelCardStatus="Draft", Content=json.dumps(CONTENT))
    card = client.describe_model_card(ModelCardName="keys")
    for field in ("CreatedBy", "LastModifiedBy"):
        arn = card[field]["IamIdentity"]["Arn"]
        assert arn.startswith(f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:user/"), (field, arn)
