"""The SageMaker, RAM and evidence adapters against the embedded AWS (moto + the cardshare_local extensions)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from cardshare.cards import Card
from cardshare.evidence import Creation, Evidence, Sighting
from cardshare.evidence_store import EVIDENCE_KEY, EvidenceStore, EvidenceUnavailableError
from cardshare.identity import Actor
from cardshare.planner import Association, AssociationStatus
from cardshare.ram import ResourceShares
from cardshare.sagemaker import ModelCards
from cardshare.status import CardStatus
from cardshare_local import extensions
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, ORGANIZATION_ID, REGION, session_for
from cardshare_local.extensions import ram as ram_ext

# The plan function's client configuration (functions/plan_card/app.py). botocore reads
# ``max_attempts`` as retries after the first attempt: up to 9 requests in all.
ADAPTIVE = Config(retries={"mode": "adaptive", "max_attempts": 8})
OPERATION = "GetResourceShareAssociations"


@pytest.fixture
def owner() -> Iterator[boto3.Session]:
    """The embedded AWS with the extensions, and a session in the model-card account."""
    with mock_aws():
        extensions.install()
        ram_ext.reset()
        yield boto3.Session(region_name=REGION)
    ram_ext.reset()


def card_arn(name: str, account: str = MODEL_CARD_ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:model-card/{name}"


def create_card(session: boto3.Session, name: str, status: str) -> str:
    client = session.client("sagemaker")
    return str(client.create_model_card(ModelCardName=name, Content="{}", ModelCardStatus=status)["ModelCardArn"])


def create_shares(session: boto3.Session, count: int) -> list[str]:
    ram = session.client("ram")
    return [ram.create_resource_share(name=f"share-{i}")["resourceShare"]["resourceShareArn"] for i in range(count)]


def associate(session: boto3.Session, share: str, *cards: str) -> None:
    session.client("ram").associate_resource_share(resourceShareArn=share, resourceArns=list(cards))


def record_requests(adapter: ResourceShares, page_size: int | None = None) -> list[dict[str, Any]]:
    """Record each GetResourceShareAssociations request the adapter's client builds (before retries).

    With ``page_size`` every request asks RAM for at most that many rows, as RAM may answer anyway.
    """
    requests: list[dict[str, Any]] = []

    def before_parameter_build(params: dict[str, Any], **_: Any) -> None:
        if page_size is not None:
            params.setdefault("maxResults", page_size)
        requests.append(dict(params))

    adapter._client.meta.events.register(f"before-parameter-build.ram.{OPERATION}", before_parameter_build)
    return requests


def count_sends(adapter: ResourceShares) -> list[int]:
    """One entry per HTTP request of GetResourceShareAssociations, retries included."""
    sends: list[int] = []
    adapter._client.meta.events.register(f"before-send.ram.{OPERATION}", lambda **_: sends.append(1))
    return sends


def core(card: Card | None) -> tuple[str, str, CardStatus, int] | None:
    """The fields the plan step decides on."""
    return None if card is None else (card.arn, card.name, card.status, card.version)


def by_share(associations: list[Association]) -> dict[str, Association]:
    assert len({a.share_arn for a in associations}) == len(associations), "one association per share"
    return {a.share_arn: a for a in associations}


# ---- ModelCards -------------------------------------------------------------------------------------


def test_describe_by_arn_returns_the_card_as_it_is_now(owner: boto3.Session) -> None:
    arn = create_card(owner, "churn-card", "Draft")
    sagemaker = owner.client("sagemaker")
    sagemaker.update_model_card(ModelCardName=arn, Content='{"model_overview": {"model_id": "m"}}')  # version 2
    sagemaker.update_model_card(ModelCardName=arn, ModelCardStatus="Approved")  # status only: still version 2
    cards = ModelCards.from_session(owner, ADAPTIVE)

    card = cards.describe(arn)

    assert core(card) == (arn, "churn-card", CardStatus.APPROVED, 2)
    assert card is not None
    assert card.content == {"model_overview": {"model_id": "m"}}
    caller = owner.client("sts").get_caller_identity()["Arn"]
    assert card.last_modified_by is not None
    assert card.last_modified_by.principal == caller


def test_describe_reads_who_created_the_card_when_and_its_kms_key(owner: boto3.Session) -> None:
    key = f"arn:aws:kms:{REGION}:{MODEL_CARD_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    sagemaker = owner.client("sagemaker")
    arn = sagemaker.create_model_card(
        ModelCardName="churn-card", Content="{}", ModelCardStatus="Draft", SecurityConfig={"KmsKeyId": key}
    )["ModelCardArn"]
    sagemaker.update_model_card(ModelCardName=arn, ModelCardStatus="PendingReview")
    raw = sagemaker.describe_model_card(ModelCardName=arn)

    card = ModelCards.from_session(owner, ADAPTIVE).describe(arn)

    assert card is not None
    assert card.kms_key_id == key
    caller = owner.client("sts").get_caller_identity()["Arn"]
    assert card.created_by is not None
    assert card.created_by.principal == caller
    assert card.created_at == raw["CreationTime"].timestamp()
    assert card.modified_at == raw["LastModifiedTime"].timestamp()
    assert card.created_at is not None
    assert card.modified_at is not None
    assert card.created_at <= card.modified_at


def test_describe_without_a_kms_key_has_none(owner: boto3.Session) -> None:
    arn = create_card(owner, "churn-card", "Draft")
    card = ModelCards.from_session(owner, ADAPTIVE).describe(arn)
    assert card is not None
    assert card.kms_key_id is None


def test_describe_reads_the_status_each_time(owner: boto3.Session) -> None:
    arn = create_card(owner, "churn-card", "PendingReview")
    cards = ModelCards.from_session(owner, ADAPTIVE)
    first = cards.describe(arn)
    owner.client("sagemaker").update_model_card(ModelCardName=arn, ModelCardStatus="Archived")

    assert first is not None
    assert first.status is CardStatus.PENDING_REVIEW
    second = cards.describe(arn)
    assert second is not None
    assert second.status is CardStatus.ARCHIVED


def test_describe_a_missing_card_is_none(owner: boto3.Session) -> None:
    create_card(owner, "other-card", "Draft")
    cards = ModelCards.from_session(owner, ADAPTIVE)

    assert cards.describe(card_arn("churn-card")) is None


def test_describe_a_deleted_card_is_none(owner: boto3.Session) -> None:
    arn = create_card(owner, "churn-card", "Draft")
    owner.client("sagemaker").delete_model_card(ModelCardName=arn)

    assert ModelCards.from_session(owner, ADAPTIVE).describe(arn) is None


def test_describe_lets_a_validation_error_propagate(owner: boto3.Session) -> None:
    cards = ModelCards.from_session(owner, ADAPTIVE)

    with pytest.raises(ClientError) as raised:
        cards.describe(card_arn("churn-card", region="eu-west-1"))
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_describe_another_accounts_card_needs_a_ram_share(owner: boto3.Session) -> None:
    """By ARN across accounts: AccessDenied propagates (it is not 'missing'); after sharing it reads."""
    ram_ext.configure_organization(MODEL_CARD_ACCOUNT, ORGANIZATION_ID, {DEV_ACCOUNT})
    arn = create_card(owner, "churn-card", "Approved")
    dev_cards = ModelCards.from_session(session_for(DEV_ACCOUNT), ADAPTIVE)

    with pytest.raises(ClientError) as raised:
        dev_cards.describe(arn)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"

    share = owner.client("ram").create_resource_share(name="dev", principals=[DEV_ACCOUNT])["resourceShare"]
    associate(owner, share["resourceShareArn"], arn)
    ram_ext.settle()
    assert core(dev_cards.describe(arn)) == (arn, "churn-card", CardStatus.APPROVED, 1)


# ---- ResourceShares ---------------------------------------------------------------------------------


def test_associations_read_every_share_in_one_paginated_read(owner: boto3.Session) -> None:
    shares = create_shares(owner, 4)
    card = card_arn("churn-card")
    for share in shares[:3]:
        associate(owner, share, card)
    adapter = ResourceShares.from_session(owner, ADAPTIVE)
    requests = record_requests(adapter, page_size=1)

    found = by_share(adapter.associations(card, shares))

    assert set(found) == set(shares[:3])
    assert {a.status for a in found.values()} == {AssociationStatus.ASSOCIATING}
    # Three pages of one row, all of one read across the four shares (not one call per share).
    assert len(requests) == 3
    assert all(r["resourceShareArns"] == shares and r["resourceArn"] == card for r in requests)
    assert all(r["associationType"] == "RESOURCE" for r in requests)
    assert [bool(r.get("nextToken")) for r in requests] == [False, True, True]


def test_associations_report_the_status_ram_reports(owner: boto3.Session) -> None:
    shares = create_shares(owner, 3)
    card = card_arn("churn-card")
    associate(owner, shares[0], card)
    ram_ext.fail_next_association("The resource is not shareable in this Region.")
    associate(owner, shares[1], card)
    associate(owner, shares[2], card)
    ram_ext.settle()
    owner.client("ram").disassociate_resource_share(resourceShareArn=shares[2], resourceArns=[card])
    adapter = ResourceShares.from_session(owner, ADAPTIVE)

    found = by_share(adapter.associations(card, shares))

    assert found[shares[0]] == Association(shares[0], AssociationStatus.ASSOCIATED)
    assert found[shares[1]] == Association(
        shares[1], AssociationStatus.FAILED, "The resource is not shareable in this Region."
    )
    assert found[shares[2]].status is AssociationStatus.DISASSOCIATING
    # RAM settles on a later read: the adapter shows the change, it keeps nothing between reads.
    assert by_share(adapter.associations(card, shares))[shares[2]].status is AssociationStatus.DISASSOCIATED


def test_associations_ignore_other_resources_and_other_shares(owner: boto3.Session) -> None:
    ours, others = create_shares(owner, 2), create_shares(owner, 1)
    card, neighbour = card_arn("churn-card"), card_arn("fraud-card")
    associate(owner, ours[0], card, neighbour)
    associate(owner, ours[1], neighbour)
    associate(owner, others[0], card)
    adapter = ResourceShares.from_session(owner, ADAPTIVE)

    assert [a.share_arn for a in adapter.associations(card, ours)] == [ours[0]]
    assert adapter.associations(card_arn("no-such-card"), ours) == []


def test_associations_drop_rows_for_other_resources_even_if_ram_returns_them(owner: boto3.Session) -> None:
    shares = create_shares(owner, 2)
    card, neighbour = card_arn("churn-card"), card_arn("fraud-card")
    associate(owner, shares[0], neighbour)
    associate(owner, shares[1], card, neighbour)
    adapter = ResourceShares.from_session(owner, ADAPTIVE)

    def drop_the_filter(params: dict[str, Any], **_: Any) -> None:
        params.pop("resourceArn", None)  # RAM now answers with every resource of the shares

    adapter._client.meta.events.register(f"before-parameter-build.ram.{OPERATION}", drop_the_filter)

    assert adapter.associations(card, shares) == [Association(shares[1], AssociationStatus.ASSOCIATING)]


def test_associations_pick_the_most_recent_row_per_share_across_pages() -> None:
    """RAM keeps DISASSOCIATED rows for a while next to newer ones; the newest row is the share's state.

    The local RAM keeps one row per share and resource, so RAM's history is played by a Stubber.
    """
    client = boto3.client("ram", region_name=REGION)
    card = card_arn("churn-card")
    a, b, c = (f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:resource-share/{x}" for x in ("a", "b", "c"))
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def row(share: str, status: str, minutes: int, entity: str = card, message: str | None = None) -> dict[str, Any]:
        result = {
            "resourceShareArn": share,
            "associatedEntity": entity,
            "associationType": "RESOURCE",
            "status": status,
            "creationTime": t0,
            "lastUpdatedTime": t0 + timedelta(minutes=minutes),
        }
        if message:
            result["statusMessage"] = message
        return result

    expected = {"associationType": "RESOURCE", "resourceShareArns": [a, b, c], "resourceArn": card}
    method = "get_resource_share_associations"
    with Stubber(client) as stub:
        stub.add_response(
            method,
            {
                "resourceShareAssociations": [row(a, "ASSOCIATED", 20), row(b, "DISASSOCIATED", 30)],
                "nextToken": "page-2",
            },
            expected,
        )
        stub.add_response(
            method,
            {
                "resourceShareAssociations": [
                    row(a, "DISASSOCIATED", 10),  # older than the ASSOCIATED row on page 1
                    row(b, "FAILED", 40, message="quota exceeded"),  # newer than page 1's row
                    row(a, "DISASSOCIATED", 50, entity=card_arn("other-card")),  # another card
                    row(c, "DISASSOCIATED", 5),
                ]
            },
            {**expected, "nextToken": "page-2"},
        )
        found = by_share(ResourceShares(client).associations(card, [a, b, c]))
        stub.assert_no_pending_responses()

    assert found == {
        a: Association(a, AssociationStatus.ASSOCIATED),
        b: Association(b, AssociationStatus.FAILED, "quota exceeded"),
        c: Association(c, AssociationStatus.DISASSOCIATED),
    }


def test_throttling_is_absorbed_by_the_adaptive_retry_config(owner: boto3.Session, virtual_clock: Any) -> None:
    shares = create_shares(owner, 2)
    card = card_arn("churn-card")
    associate(owner, shares[1], card)
    adapter = ResourceShares.from_session(owner, ADAPTIVE)
    requests, sends = record_requests(adapter), count_sends(adapter)
    ram_ext.inject_error(OPERATION, "ThrottlingException", times=2)

    assert adapter.associations(card, shares) == [Association(shares[1], AssociationStatus.ASSOCIATING)]
    assert len(requests) == 1  # one read ...
    assert len(sends) == 3  # ... sent three times: two throttled, one answered
    assert len(virtual_clock.backoffs) == 2  # backoff before each retry
    assert virtual_clock.rate_limited, "adaptive mode slows the client down after throttling"


def test_the_retry_config_allows_eight_retries(owner: boto3.Session, virtual_clock: Any) -> None:
    shares = create_shares(owner, 1)
    adapter = ResourceShares.from_session(owner, ADAPTIVE)
    sends = count_sends(adapter)
    ram_ext.inject_error(OPERATION, "ThrottlingException", times=8)

    assert adapter.associations(card_arn("churn-card"), shares) == []
    assert len(sends) == 9

    ram_ext.inject_error(OPERATION, "ThrottlingException", times=9)
    with pytest.raises(ClientError) as raised:
        adapter.associations(card_arn("churn-card"), shares)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(sends) == 18


def test_without_the_retry_config_throttling_propagates(owner: boto3.Session, virtual_clock: Any) -> None:
    shares = create_shares(owner, 1)
    adapter = ResourceShares.from_session(owner, Config(retries={"mode": "adaptive", "max_attempts": 1}))
    sends = count_sends(adapter)
    ram_ext.inject_error(OPERATION, "ThrottlingException", times=2)

    with pytest.raises(ClientError) as raised:
        adapter.associations(card_arn("churn-card"), shares)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert len(sends) == 2


# ---- EvidenceStore ----------------------------------------------------------------------------------

TABLE = "cardshare-decisions"


def create_ledger_table(session: boto3.Session) -> Any:
    """The ledger table as template.yaml declares it (the evidence lives in it under '#evidence')."""
    client = session.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "cardArn", "KeyType": "HASH"}, {"AttributeName": "decidedAt", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "cardArn", "AttributeType": "S"},
            {"AttributeName": "decidedAt", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return client


def person(name: str) -> Actor:
    actor = Actor.from_user_context(
        {"IamIdentity": {"Arn": f"arn:aws:sts::{MODEL_CARD_ACCOUNT}:assumed-role/{name}/session"}}
    )
    assert actor is not None
    return actor


ALICE, BOB = person("Alice"), person("Bob")
FACTS = [
    Evidence(creations=frozenset({Creation(1_795_000_000_000, ALICE)})),
    Evidence(frozenset({Sighting(1_795_000_000_000, 1, CardStatus.DRAFT, ALICE)})),
    Evidence(frozenset({Sighting(1_795_000_060_000, 1, CardStatus.PENDING_REVIEW, ALICE)})),
    Evidence(
        frozenset({Sighting(1_795_000_120_000, 1, CardStatus.APPROVED, BOB), Sighting(1, 1, CardStatus.DRAFT, None)})
    ),
]


def union(facts: list[Evidence]) -> Evidence:
    result = Evidence()
    for fact in facts:
        result = result.merged(fact)
    return result


def test_merge_returns_everything_merged_so_far(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    create_ledger_table(owner)
    card = card_arn("churn-card")

    for count in range(1, len(FACTS) + 1):
        assert store.merge(card, FACTS[count - 1]) == union(FACTS[:count])
    # Merging what is already known changes nothing, and nothing is needed to read it back.
    assert store.merge(card, FACTS[2]) == union(FACTS)
    assert store.merge(card, Evidence()) == union(FACTS)


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(FACTS)))), ids=str)
def test_merge_is_a_union_in_any_order(owner: boto3.Session, order: tuple[int, ...]) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    create_ledger_table(owner)
    card = card_arn("churn-card")

    results = [store.merge(card, FACTS[i]) for i in order]

    assert results[-1] == union(FACTS)
    assert all(before.sightings <= after.sightings for before, after in itertools.pairwise(results))


def test_merge_is_keyed_by_the_exact_card_arn(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    client = create_ledger_table(owner)
    card = card_arn("Churn-Card")

    store.merge(card, FACTS[1])

    assert store.merge(card.lower(), Evidence()) == Evidence()
    assert store.merge(card_arn("fraud-card"), FACTS[2]) == FACTS[2]
    assert store.merge(card, Evidence()) == FACTS[1]
    # One item per card, beside its decisions; a read of nothing new writes nothing.
    items = client.scan(TableName=TABLE)["Items"]
    assert sorted((i["cardArn"]["S"], i["decidedAt"]["S"]) for i in items) == sorted(
        [(card, EVIDENCE_KEY), (card_arn("fraud-card"), EVIDENCE_KEY)]
    )
    (stored,) = [i for i in items if i["cardArn"]["S"] == card]
    assert set(stored["facts"]["SS"]) == FACTS[1].encode()


def test_merge_skips_stored_facts_it_cannot_read(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    client = create_ledger_table(owner)
    card = card_arn("churn-card")
    client.update_item(
        TableName=TABLE,
        Key={"cardArn": {"S": card}, "decidedAt": {"S": EVIDENCE_KEY}},
        UpdateExpression="ADD facts :facts",
        ExpressionAttributeValues={":facts": {"SS": ["s|not-a-time|1|Draft|", "x|junk", "s|1|1|Published|"]}},
    )

    assert store.merge(card, FACTS[1]) == FACTS[1]


def test_claim_alert_is_true_the_first_time_for_each_refusal_and_card(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    client = create_ledger_table(owner)
    card = card_arn("churn-card")
    store.merge(card, FACTS[1])

    assert store.claim_alert(card, "block-1") is True
    assert store.claim_alert(card, "block-2") is True  # another refusal of the same card
    assert store.claim_alert(card_arn("fraud-card"), "block-1") is True  # the same refusal of another card
    # The claims live beside the facts, on the card's evidence item, without disturbing them.
    item = client.get_item(TableName=TABLE, Key={"cardArn": {"S": card}, "decidedAt": {"S": EVIDENCE_KEY}})["Item"]
    assert set(item["alerts"]["SS"]) == {"block-1", "block-2"}
    assert store.merge(card, Evidence()) == FACTS[1]


def test_claim_alert_is_false_once_the_refusal_was_claimed(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    create_ledger_table(owner)
    card = card_arn("churn-card")
    store.merge(card, FACTS[1])

    assert store.claim_alert(card, "block-1") is True
    assert store.claim_alert(card, "block-1") is False


def test_record_writes_facts_and_a_claim_in_one_call_and_tells_a_first_claim_from_a_second(
    owner: boto3.Session,
) -> None:
    store = EvidenceStore.from_session(owner, TABLE, ADAPTIVE)
    create_ledger_table(owner)
    card = card_arn("churn-card")

    assert store.record(card, FACTS[1], "change-1") is True  # on an item that did not exist yet
    assert store.record(card, FACTS[2], "change-1") is False  # claimed before this very write
    assert store.record(card, Evidence(), "change-2") is True  # a claim alone
    assert store.record(card, FACTS[3], None) is True  # facts alone
    # The facts landed as a merge would have written them; the claims are the claims claim_alert sees.
    assert store.merge(card, Evidence()) == union(FACTS[1:])
    assert store.claim_alert(card, "change-2") is False
    with pytest.raises(ValueError, match="nothing to record"):
        store.record(card, Evidence(), None)
    with pytest.raises(EvidenceUnavailableError, match="no-such-table"):
        EvidenceStore.from_session(owner, "no-such-table", ADAPTIVE).record(card, FACTS[1], "change-1")


def test_a_missing_table_makes_the_evidence_unavailable(owner: boto3.Session) -> None:
    store = EvidenceStore.from_session(owner, "no-such-table", ADAPTIVE)
    card = card_arn("churn-card")

    for facts in (FACTS[1], Evidence()):  # UpdateItem, and GetItem when there is nothing to add
        with pytest.raises(EvidenceUnavailableError, match="no-such-table") as raised:
            store.merge(card, facts)
        assert isinstance(raised.value.__cause__, ClientError)
        assert raised.value.__cause__.response["Error"]["Code"] == "ResourceNotFoundException"
    # An alert is claimed anyway: a duplicate alert beats a lost one.
    assert store.claim_alert(card, "block-1") is True
    assert store.claim_alert(card, "block-1") is True


# ---- ResourceShares.grants_update ---------------------------------------------------------------------


def count_calls(adapter: ResourceShares, operation: str) -> list[int]:
    calls: list[int] = []
    adapter._client.meta.events.register(f"before-send.ram.{operation}", lambda **_: calls.append(1))
    return calls


def test_the_aws_managed_model_card_permission_grants_update(owner: boto3.Session) -> None:
    ram = owner.client("ram")
    card = card_arn("churn-card")
    default = ram.create_resource_share(name="default", resourceArns=[card])["resourceShare"]["resourceShareArn"]
    export = ram.create_resource_share(
        name="export", resourceArns=[card], permissionArns=[ram_ext.MODEL_CARD_EXPORT_PERMISSION_ARN]
    )["resourceShare"]["resourceShareArn"]
    assert [p["arn"] for p in ram.list_resource_share_permissions(resourceShareArn=default)["permissions"]] == [
        ram_ext.MODEL_CARD_PERMISSION_ARN
    ]
    adapter = ResourceShares.from_session(owner, ADAPTIVE)

    assert adapter.grants_update(default) is True
    assert adapter.grants_update(export) is True


def test_a_read_only_customer_managed_permission_does_not_grant_update(owner: boto3.Session) -> None:
    ram = owner.client("ram")
    template = {"Effect": "Allow", "Action": ["sagemaker:DescribeModelCard", "sagemaker:ListModelCardVersions"]}
    permission = ram.create_permission(
        name="model-card-read-only", resourceType="sagemaker:ModelCard", policyTemplate=json.dumps(template)
    )["permission"]["arn"]
    share = ram.create_resource_share(name="prod", resourceArns=[card_arn("churn-card")], permissionArns=[permission])[
        "resourceShare"
    ]["resourceShareArn"]
    adapter = ResourceShares.from_session(owner, ADAPTIVE)

    assert adapter.grants_update(share) is False


@pytest.mark.parametrize(
    ("actions", "grants"),
    [
        (["sagemaker:DescribeModelCard", "sagemaker:UpdateModelCard"], True),
        (["sagemaker:*"], True),
        (["sagemaker:Update*"], True),
        (["sagemaker:describemodelcard", "sagemaker:updatemodelcard"], True),
        (["sagemaker:DescribeModelCard"], False),
        (["sagemaker:UpdateModelCardExportJob"], False),
    ],
)
def test_a_customer_managed_permission_grants_update_as_its_actions_say(
    owner: boto3.Session, actions: list[str], grants: bool
) -> None:
    ram = owner.client("ram")
    permission = ram.create_permission(
        name="custom",
        resourceType="sagemaker:ModelCard",
        policyTemplate=json.dumps({"Effect": "Allow", "Action": actions}),
    )["permission"]["arn"]
    share = ram.create_resource_share(
        name="custom", resourceArns=[card_arn("churn-card")], permissionArns=[permission]
    )["resourceShare"]["resourceShareArn"]

    assert ResourceShares.from_session(owner, ADAPTIVE).grants_update(share) is grants


def test_grants_update_is_read_once_per_share(owner: boto3.Session) -> None:
    ram = owner.client("ram")
    shares = [
        ram.create_resource_share(name=f"share-{i}", resourceArns=[card_arn("churn-card")])["resourceShare"][
            "resourceShareArn"
        ]
        for i in range(2)
    ]
    adapter = ResourceShares.from_session(owner, ADAPTIVE)
    listed, read = count_calls(adapter, "ListResourceSharePermissions"), count_calls(adapter, "GetPermission")

    assert [adapter.grants_update(share) for share in (shares[0], shares[0], shares[1], shares[0])] == [True] * 4
    assert (len(listed), len(read)) == (2, 2)


def test_grants_update_of_an_unknown_share_raises(owner: boto3.Session) -> None:
    adapter = ResourceShares.from_session(owner, ADAPTIVE)
    missing = f"arn:aws:ram:{REGION}:{MODEL_CARD_ACCOUNT}:resource-share/00000000-0000-0000-0000-000000000000"

    with pytest.raises(ClientError) as raised:
        adapter.grants_update(missing)
    assert raised.value.response["Error"]["Code"] == "UnknownResourceException"
