"""Smoke tests of cardshare_local.extensions.sagemaker_cards: each fails on stock moto 5.2.5."""

from __future__ import annotations

import json
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from cardshare_local.accounts import (
    DEV_ACCOUNT,
    MODEL_CARD_ACCOUNT,
    ORGANIZATION_ID,
    ORGANIZATION_MEMBERS,
    PROD_ACCOUNT,
    REGION,
    session_for,
)
from cardshare_local.extensions import eventbridge_targets, sagemaker_cards

CONTENT = {"model_overview": {"model_id": "churn-model", "model_owner": "team"}}
SM_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


@pytest.fixture
def aws() -> Iterator[None]:
    sagemaker_cards.install()
    eventbridge_targets.install()  # moto's own SQS delivery drops the event's "account"
    with mock_aws(config=SM_CONFIG):
        yield


def _sm(account: str = MODEL_CARD_ACCOUNT, role: str = "cardshare-local") -> Any:
    return session_for(account, role).client("sagemaker")


def _create(sm: Any, name: str = "churn", status: str = "Draft") -> str:
    return sm.create_model_card(ModelCardName=name, Content=json.dumps(CONTENT), ModelCardStatus=status)["ModelCardArn"]


def _code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def fake_ram(monkeypatch: pytest.MonkeyPatch) -> dict[str, frozenset[str]]:
    """A stand-in for extensions.ram: grants[caller account] = actions on any card."""
    grants: dict[str, frozenset[str]] = {}

    def shared_actions(owner_account: str, region: str, resource_arn: str, caller_account: str) -> frozenset[str]:
        return grants.get(caller_account, frozenset())

    monkeypatch.setitem(
        sys.modules, "cardshare_local.extensions.ram", types.SimpleNamespace(shared_actions=shared_actions)
    )
    return grants


def test_name_or_arn_for_every_card_operation(aws: None) -> None:
    sm = _sm()
    arn = _create(sm)
    assert sm.describe_model_card(ModelCardName=arn)["ModelCardName"] == "churn"
    sm.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    versions = sm.list_model_card_versions(ModelCardName=arn)["ModelCardVersionSummaryList"]
    assert [v["ModelCardVersion"] for v in versions] == [1]
    sm.delete_model_card(ModelCardName=arn)
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_card(ModelCardName="churn")
    assert _code(excinfo) == "ResourceNotFound"


def test_update_rules_like_aws(aws: None) -> None:
    sm = _sm()
    _create(sm)
    with pytest.raises(ClientError) as excinfo:
        sm.update_model_card(ModelCardName="churn", Content=json.dumps(CONTENT), ModelCardStatus="Approved")
    assert _code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        sm.update_model_card(ModelCardName="churn", ModelCardStatus="Shipped")
    assert _code(excinfo) == "ValidationException"

    # Status only: content kept, no new version.
    sm.update_model_card(ModelCardName="churn", ModelCardStatus="PendingReview")
    card = sm.describe_model_card(ModelCardName="churn")
    assert (card["ModelCardVersion"], card["ModelCardStatus"]) == (1, "PendingReview")
    assert json.loads(card["Content"]) == CONTENT

    # Content only: status kept, new version.
    new_content = {**CONTENT, "intended_uses": {"purpose_of_model": "churn"}}
    sm.update_model_card(ModelCardName="churn", Content=json.dumps(new_content))
    card = sm.describe_model_card(ModelCardName="churn")
    assert (card["ModelCardVersion"], card["ModelCardStatus"]) == (2, "PendingReview")
    assert json.loads(card["Content"]) == new_content
    assert card["LastModifiedTime"] >= card["CreationTime"]

    versions = sm.list_model_card_versions(ModelCardName="churn", SortOrder="Descending")
    assert [(v["ModelCardVersion"], v["ModelCardStatus"]) for v in versions["ModelCardVersionSummaryList"]] == [
        (2, "PendingReview"),
        (1, "PendingReview"),
    ]
    old = sm.describe_model_card(ModelCardName="churn", ModelCardVersion=1)
    assert json.loads(old["Content"]) == CONTENT


def test_created_by_and_last_modified_by_per_version(aws: None) -> None:
    author, approver = _sm(role="author"), _sm(role="approver")
    arn = _create(author)
    author.update_model_card(ModelCardName=arn, Content=json.dumps({**CONTENT, "additional_information": {}}))
    approver.update_model_card(ModelCardName=arn, ModelCardStatus="Approved")

    author_arn = f"arn:aws:sts::{MODEL_CARD_ACCOUNT}:assumed-role/author/author"
    approver_arn = f"arn:aws:sts::{MODEL_CARD_ACCOUNT}:assumed-role/approver/approver"
    latest = author.describe_model_card(ModelCardName=arn)
    assert latest["CreatedBy"]["IamIdentity"]["Arn"] == author_arn
    assert latest["LastModifiedBy"]["IamIdentity"]["Arn"] == approver_arn
    assert latest["CreatedBy"]["IamIdentity"]["PrincipalId"].endswith(":author")
    first = author.describe_model_card(ModelCardName=arn, ModelCardVersion=1)
    assert first["LastModifiedBy"]["IamIdentity"]["Arn"] == author_arn
    # The status change does not make the approver the author of version 2.
    assert sagemaker_cards.version_authors(MODEL_CARD_ACCOUNT, REGION, "churn") == {1: author_arn, 2: author_arn}


def test_state_change_events_on_owner_default_bus(aws: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="card-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="cards",
        EventPattern=json.dumps({"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Card State Change"]}),
    )
    events.put_targets(Rule="cards", Targets=[{"Id": "q", "Arn": queue_arn}])

    sm = _sm(role="author")
    arn = _create(sm)
    sm.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    sm.update_model_card(ModelCardName=arn, Content=json.dumps(CONTENT))  # EMIT_ON_CONTENT_CHANGE
    sm.delete_model_card(ModelCardName=arn)  # no event

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert [(b["detail"]["ModelCardStatus"], b["detail"]["ModelCardVersion"]) for b in bodies] == [
        ("Draft", 1),
        ("PendingReview", 1),
        ("PendingReview", 2),
    ]
    event = bodies[1]
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker Model Card State Change"
    assert event["resources"] == [arn]
    assert event["account"] == MODEL_CARD_ACCOUNT
    assert set(event["detail"]) == {
        "ModelCardVersion",
        "LastModifiedTime",
        "LastModifiedBy",
        "CreationTime",
        "CreatedBy",
        "ModelCardName",
        "ModelId",
        "ModelCardStatus",
        "AccountId",
        "SecurityConfig",
    }
    assert event["detail"]["ModelId"] == "churn-model"
    assert event["detail"]["ModelCardName"] == "churn"
    assert event["detail"]["AccountId"] == MODEL_CARD_ACCOUNT
    assert event["detail"]["SecurityConfig"] == {}
    assert event["detail"]["CreationTime"].endswith("Z")
    assert event["detail"]["LastModifiedBy"]["IamIdentity"]["Arn"].endswith(":assumed-role/author/author")


def test_no_event_for_content_change_when_disabled(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sagemaker_cards, "EMIT_ON_CONTENT_CHANGE", False)
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="card-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="cards", EventPattern=json.dumps({"source": ["aws.sagemaker"]}))
    events.put_targets(Rule="cards", Targets=[{"Id": "q", "Arn": queue_arn}])
    sm = _sm()
    _create(sm)
    sm.update_model_card(ModelCardName="churn", Content=json.dumps(CONTENT))
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1


def test_cross_account_by_arn_needs_a_ram_grant(aws: None, fake_ram: dict[str, frozenset[str]]) -> None:
    arn = _create(_sm())
    fake_ram[DEV_ACCOUNT] = frozenset({"sagemaker:DescribeModelCard", "sagemaker:UpdateModelCard"})
    dev, prod = _sm(DEV_ACCOUNT, "consumer"), _sm(PROD_ACCOUNT, "consumer")

    assert dev.describe_model_card(ModelCardName=arn)["ModelCardArn"] == arn
    dev.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    card = _sm().describe_model_card(ModelCardName="churn")
    assert card["ModelCardStatus"] == "PendingReview"
    assert card["LastModifiedBy"]["IamIdentity"]["Arn"] == f"arn:aws:sts::{DEV_ACCOUNT}:assumed-role/consumer/consumer"

    with pytest.raises(ClientError) as excinfo:
        dev.list_model_card_versions(ModelCardName=arn)
    assert _code(excinfo) == "AccessDeniedException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "is not authorized to perform: sagemaker:ListModelCardVersions on resource: " + arn in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:
        prod.describe_model_card(ModelCardName=arn)
    assert _code(excinfo) == "AccessDeniedException"
    assert f"User: arn:aws:sts::{PROD_ACCOUNT}:assumed-role/consumer/consumer" in str(excinfo.value)
    # A name is always the caller's own card.
    with pytest.raises(ClientError) as excinfo:
        dev.describe_model_card(ModelCardName="churn")
    assert _code(excinfo) == "ResourceNotFound"


def test_cross_account_through_real_ram(aws: None) -> None:
    ram_ext = pytest.importorskip("cardshare_local.extensions.ram")
    if not hasattr(ram_ext, "shared_actions"):
        pytest.skip("extensions.ram has no shared_actions yet")
    ram_ext.install()
    ram_ext.configure_organization(MODEL_CARD_ACCOUNT, ORGANIZATION_ID, ORGANIZATION_MEMBERS)
    try:
        arn = _create(_sm())
        ram = boto3.client("ram", region_name=REGION)
        share = ram.create_resource_share(name="dev-cards", principals=[DEV_ACCOUNT])
        share_arn = share["resourceShare"]["resourceShareArn"]
        ram.associate_resource_share(resourceShareArn=share_arn, resourceArns=[arn])
        for _ in range(2):  # reads settle ASSOCIATING -> ASSOCIATED
            for kind in ("RESOURCE", "PRINCIPAL"):
                ram.get_resource_share_associations(associationType=kind, resourceShareArns=[share_arn])

        assert _sm(DEV_ACCOUNT).describe_model_card(ModelCardName=arn)["ModelCardArn"] == arn
        with pytest.raises(ClientError) as excinfo:
            _sm(PROD_ACCOUNT).describe_model_card(ModelCardName=arn)
        assert _code(excinfo) == "AccessDeniedException"
    finally:
        ram_ext.reset()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_under_threaded_moto_server() -> None:
    from moto.server import ThreadedMotoServer

    sagemaker_cards.install()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        url = f"http://127.0.0.1:{port}"
        sm = session_for(MODEL_CARD_ACCOUNT, "author", endpoint_url=url).client("sagemaker", endpoint_url=url)
        arn = _create(sm, name="served")
        sm.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
        card = sm.describe_model_card(ModelCardName=arn)
        assert (card["ModelCardVersion"], card["ModelCardStatus"]) == (1, "PendingReview")
        assert card["CreatedBy"]["IamIdentity"]["Arn"].endswith(":assumed-role/author/author")
    finally:
        server.stop()
        from moto.core.base_backend import BackendDict

        BackendDict.reset()  # the server shares this process's backends


def test_list_model_cards_pages_like_aws(aws: None) -> None:
    # Stock moto accepts any MaxResults, so 10,000 cards came back in one page.
    sm = _sm()
    for index in range(105):
        sm.create_model_card(ModelCardName=f"card-{index:03d}", Content=json.dumps(CONTENT), ModelCardStatus="Draft")
    default = sm.list_model_cards()
    assert len(default["ModelCardSummaries"]) == sagemaker_cards.LIST_CARDS_DEFAULT_PAGE
    assert default["NextToken"]
    full = sm.list_model_cards(MaxResults=100)
    rest = sm.list_model_cards(MaxResults=100, NextToken=full["NextToken"])
    assert (len(full["ModelCardSummaries"]), len(rest["ModelCardSummaries"])) == (100, 5)
    assert "NextToken" not in rest
    names = {s["ModelCardName"] for s in full["ModelCardSummaries"] + rest["ModelCardSummaries"]}
    assert len(names) == 105
    with pytest.raises(ClientError) as excinfo:
        sm.list_model_cards(MaxResults=101)
    assert _code(excinfo) == "ValidationException"
