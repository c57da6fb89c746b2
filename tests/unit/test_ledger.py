"""The decision ledger adapter: DynamoDB items and reading a card's latest decision."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from cardshare.cards import Card
from cardshare.decisions import Converged, decide, failure_decision
from cardshare.evidence import Creation, Evidence, Sighting, to_ms
from cardshare.evidence_store import EVIDENCE_KEY, EvidenceStore
from cardshare.gate_config import GateConfig
from cardshare.gates import evaluate
from cardshare.identity import Actor
from cardshare.ledger import DecisionLedger, from_item, to_item
from cardshare.reconciler import LedgerUnavailableError
from cardshare.status import CardStatus

TABLE = "cardshare-decisions"
CARD_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-card/Customer-Churn-Model-Card"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:cardshare-promote-card:run-1"


def create_ledger_table(client: Any) -> None:
    """The ledger's key schema, as template.yaml declares it (card ARN, then decidedAt)."""
    client.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "cardArn", "KeyType": "HASH"},
            {"AttributeName": "decidedAt", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "cardArn", "AttributeType": "S"},
            {"AttributeName": "decidedAt", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def record(n: int, outcome: str = "shared") -> dict[str, Any]:
    return {"cardArn": CARD_ARN, "decidedAt": f"2026-11-28T09:00:{n:02d}+00:00#run-{n}", "outcome": outcome, "n": n}


class FakeDynamoDB:
    """query() over pre-built pages, newest first; records every request."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = [[to_item(r) for r in page] for page in pages]
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> dict[str, Any]:
        self.requests.append(copy.deepcopy(request))
        index = int(request.get("ExclusiveStartKey", {}).get("page", {}).get("N", "0"))
        response: dict[str, Any] = {"Items": self.pages[index] if self.pages else []}
        if index + 1 < len(self.pages):
            response["LastEvaluatedKey"] = {"page": {"N": str(index + 1)}}
        return response


class BrokenDynamoDB:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def query(self, **request: Any) -> dict[str, Any]:
        raise self.error


def evidence_item(**extra: Any) -> dict[str, Any]:
    """The card's evidence item as the plan function writes it beside the decisions."""
    return {"cardArn": CARD_ARN, "decidedAt": EVIDENCE_KEY, "facts": {"s|1|1|Draft|"}, **extra}


# ---- items --------------------------------------------------------------------------------------------


def a_decision_record() -> dict[str, Any]:
    """A blocked self-approval, with the approval gate's details (nested values of every kind)."""
    author = Actor.from_user_context(
        {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/DataScientist/alice"}}
    )
    assert author is not None
    t0 = 1_795_000_000.0
    card = Card(
        CARD_ARN,
        "Customer-Churn-Model-Card",
        CardStatus.APPROVED,
        1,
        {},
        author,
        author,
        modified_at=t0 + 2,
        created_at=t0,
        kms_key_id="alias/cards",
    )
    evidence = Evidence(
        frozenset(
            Sighting(to_ms(t0 + i), 1, status, author)
            for i, status in enumerate((CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.APPROVED))
        ),
        frozenset({Creation(to_ms(t0), author)}),
    )
    config = GateConfig(required_fields=(), approver_accounts=frozenset({"123456789012"}))
    verdict = evaluate(card, evidence, config, now=t0 + 86_400, final=True)
    now = datetime(2026, 11, 28, 9, 0, 1, tzinfo=UTC)
    return decide(Converged(CARD_ARN, card, verdict, ["dev"], [], "e-1", EXECUTION, now, config, defers=2)).record


def test_a_decision_record_round_trips_through_an_item() -> None:
    original = a_decision_record()
    assert original["outcome"] == "blocked"
    item = to_item(original)
    assert item["version"] == {"N": "1"}
    assert item["evidenceWaits"] == {"N": "2"}
    assert item["cardArn"] == {"S": CARD_ARN}
    assert item["exists"] == {"BOOL": True}
    assert item["gates"]["L"][0]["M"]["gate"] == {"S": "review"}
    assert item["gates"]["L"][1]["M"]["details"]["M"]["reviewed"] == {"BOOL": True}
    back = from_item(json.loads(json.dumps(item)))  # what DynamoDB hands back
    assert back == original
    assert type(back["version"]) is int
    assert all(isinstance(gate, dict) for gate in back["gates"])
    assert back["gates"][1]["details"]["authors"] == [original["actor"]]


def test_none_values_are_left_out_of_the_item() -> None:
    item = to_item({"cardArn": CARD_ARN, "version": None, "kmsKeyId": None, "effectiveStatus": "Draft"})
    assert set(item) == {"cardArn", "effectiveStatus"}
    assert from_item(item) == {"cardArn": CARD_ARN, "effectiveStatus": "Draft"}


def test_a_failure_record_round_trips_without_its_missing_fields() -> None:
    original = failure_decision({}, EXECUTION, datetime(2026, 11, 28, tzinfo=UTC)).record
    back = from_item(to_item(original))
    assert back == {key: value for key, value in original.items() if value is not None}
    assert "version" not in back
    assert back["sharesAdded"] == []


def test_numbers_stay_numbers_and_lists_of_objects_stay_lists_of_objects() -> None:
    original = {
        "cardArn": CARD_ARN,
        "whole": 7,
        "zero": 0,
        "big": 2**53 + 1,
        "nested": [{"gate": "a", "reasons": ["x", "y"], "count": 2}, {"gate": "b", "reasons": []}],
        "empty": [],
        "flag": False,
        "text": "",
    }
    back = from_item(to_item(original))
    assert back == original
    assert [type(back[key]) for key in ("whole", "zero", "big")] == [int, int, int]
    assert type(back["nested"][0]["count"]) is int
    assert back["flag"] is False


def test_a_fractional_number_comes_back_as_a_float() -> None:
    assert from_item({"ratio": {"N": "0.25"}}) == {"ratio": 0.25}


def test_a_string_set_comes_back_as_a_sorted_list() -> None:
    assert from_item({"authors": {"SS": ["b", "a"]}}) == {"authors": ["a", "b"]}


# ---- latest -----------------------------------------------------------------------------------------


def test_latest_queries_the_card_newest_first() -> None:
    client = FakeDynamoDB([record(3)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(3)
    (request,) = client.requests
    assert request["TableName"] == TABLE
    assert request["KeyConditionExpression"] == "cardArn = :card"
    assert request["ExpressionAttributeValues"] == {":card": {"S": CARD_ARN}}
    assert request["ScanIndexForward"] is False
    assert "ExclusiveStartKey" not in request


def test_latest_returns_the_newest_record_of_the_first_page() -> None:
    client = FakeDynamoDB([record(9), record(8)], [record(7)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(9)
    assert len(client.requests) == 1  # stops at the first hit


def test_failed_records_are_skipped_across_pages() -> None:
    client = FakeDynamoDB(
        [record(9, "failed"), record(8, "failed")],
        [record(7, "failed"), record(6, "no-op"), record(5)],
        [record(4)],
    )
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(6, "no-op")
    assert len(client.requests) == 2
    assert client.requests[1]["ExclusiveStartKey"] == {"page": {"N": "1"}}


@pytest.mark.parametrize("outcome", ["blocked", "revoked", "shared", "no-op"])
def test_every_outcome_but_failed_is_a_usable_record(outcome: str) -> None:
    client = FakeDynamoDB([record(2, "failed"), record(1, outcome)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(1, outcome)


def test_an_empty_ledger_has_no_latest() -> None:
    client = FakeDynamoDB()
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) is None
    assert len(client.requests) == 1


def test_only_failed_records_give_none_after_the_last_page() -> None:
    client = FakeDynamoDB([record(3, "failed")], [record(2, "failed")], [record(1, "failed")])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) is None
    assert len(client.requests) == 3


def test_an_empty_page_with_more_to_come_is_read_past() -> None:
    client = FakeDynamoDB([], [record(1)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(1)
    assert len(client.requests) == 2


def test_reading_past_failures_is_bounded() -> None:
    # A card that failed in every one of hundreds of executions: give up rather than read them all.
    pages = [[record(59 - (p * 10 + i) % 60, "failed") for i in range(10)] for p in range(50)]
    client = FakeDynamoDB(*pages)
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) is None
    assert 1 < len(client.requests) < 50


@pytest.mark.parametrize(
    "error",
    [
        ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no table"}}, "Query"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "Query"),
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=["no-table", "denied", "no-endpoint"],
)
def test_an_unreadable_ledger_raises_ledger_unavailable_naming_the_table(error: Exception) -> None:
    with pytest.raises(LedgerUnavailableError, match=TABLE) as raised:
        DecisionLedger(BrokenDynamoDB(error), TABLE).latest(CARD_ARN)
    assert raised.value.__cause__ is error


def test_other_errors_are_not_mistaken_for_an_unavailable_ledger() -> None:
    with pytest.raises(TypeError):
        DecisionLedger(BrokenDynamoDB(TypeError("a bug")), TABLE).latest(CARD_ARN)


def test_from_session_builds_a_dynamodb_client() -> None:
    class Session:
        def __init__(self) -> None:
            self.asked: list[tuple[str, Any]] = []

        def client(self, service: str, config: Any = None) -> FakeDynamoDB:
            self.asked.append((service, config))
            return FakeDynamoDB([record(1)])

    session = Session()
    ledger = DecisionLedger.from_session(session, TABLE, config="cfg")
    assert session.asked == [("dynamodb", "cfg")]
    assert ledger.latest(CARD_ARN) == record(1)


def test_latest_skips_the_evidence_item() -> None:
    client = FakeDynamoDB([evidence_item(), record(1)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(1)


def test_a_card_with_only_its_evidence_has_no_latest() -> None:
    client = FakeDynamoDB([record(2, "failed"), evidence_item()])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) is None


@pytest.mark.parametrize("key", [EVIDENCE_KEY, "#lease", "#alerts", "#"])
def test_every_reserved_item_is_skipped_even_if_it_carried_an_outcome(key: str) -> None:
    client = FakeDynamoDB([{**evidence_item(), "decidedAt": key, "outcome": "shared"}], [record(1)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(1)
    assert len(client.requests) == 2


def test_items_without_an_outcome_are_skipped() -> None:
    partial = {"cardArn": CARD_ARN, "decidedAt": "2026-11-28T09:00:03+00:00#run-3", "status": "Approved"}
    client = FakeDynamoDB([partial, record(2)])
    assert DecisionLedger(client, TABLE).latest(CARD_ARN) == record(2)


def test_the_evidence_key_sorts_before_every_decision() -> None:
    # Newest first, the evidence comes last: it never hides the newest decision on the first page.
    assert EVIDENCE_KEY.startswith("#")
    for decided_at in (record(0)["decidedAt"], "0000-01-01T00:00:00+00:00#x", "1970-01-01T00:00:00Z#run"):
        assert decided_at > EVIDENCE_KEY


def test_latest_beside_the_evidence_in_dynamodb() -> None:
    """On DynamoDB (moto): the evidence the plan merges shares the card's partition with its decisions."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client)
        ledger, store = DecisionLedger(client, TABLE), EvidenceStore(client, TABLE)
        sighting = Sighting(1_795_000_000_000, 1, CardStatus.DRAFT, None)
        store.merge(CARD_ARN, Evidence(frozenset({sighting})))
        assert ledger.latest(CARD_ARN) is None  # only the evidence so far
        client.put_item(TableName=TABLE, Item=to_item(record(1)))
        client.put_item(TableName=TABLE, Item=to_item(record(2, "failed")))
        assert ledger.latest(CARD_ARN) == record(1)
        assert store.claim_alert(CARD_ARN, "fingerprint") is True  # an alert claimed on the same item
        assert ledger.latest(CARD_ARN) == record(1)
        assert ledger.latest(CARD_ARN.replace("Churn", "Fraud")) is None


# ---- latest_of: the reconciler's bulk read --------------------------------------------------------


class SizedDynamoDB(FakeDynamoDB):
    """A table DescribeTable reports as ``size`` bytes; scan() answers with every item, one page."""

    def __init__(self, size: int, *items: dict[str, Any]) -> None:
        super().__init__()
        self.size = size
        self.items = [to_item(i) for i in items]

    def describe_table(self, **request: Any) -> dict[str, Any]:
        self.requests.append({"DescribeTable": request})
        return {"Table": {"TableSizeBytes": self.size}}

    def scan(self, **request: Any) -> dict[str, Any]:
        self.requests.append(copy.deepcopy(request))
        return {"Items": self.items}


def test_latest_of_scans_once_when_the_table_is_smaller_than_the_queries() -> None:
    other = CARD_ARN.replace("Churn", "Fraud")
    client = SizedDynamoDB(
        1000,
        record(1),
        record(3, "failed"),
        record(2, "no-op"),
        evidence_item(),
        {**record(5), "cardArn": "arn:not-asked"},
    )
    latest = DecisionLedger(client, TABLE).latest_of([CARD_ARN, other])
    assert latest == {CARD_ARN: record(2, "no-op"), other: None}
    scans = [r for r in client.requests if "ProjectionExpression" in r]
    assert len(scans) == 1
    assert len(client.requests) == 2
    assert set(scans[0]["ExpressionAttributeNames"].values()) >= {"cardArn", "decidedAt", "status", "modifiedAt"}


def test_latest_of_queries_each_card_when_the_table_is_larger_than_that() -> None:
    client = SizedDynamoDB(50 * 1024 * 1024)
    latest = DecisionLedger(client, TABLE).latest_of([CARD_ARN, CARD_ARN.replace("Churn", "Fraud")])
    assert list(latest.values()) == [None, None]
    assert [next(iter(r)) for r in client.requests] == ["DescribeTable", "TableName", "TableName"]


def test_latest_of_one_card_is_one_query() -> None:
    client = FakeDynamoDB([record(1)])
    assert DecisionLedger(client, TABLE).latest_of([CARD_ARN]) == {CARD_ARN: record(1)}
    assert len(client.requests) == 1


def test_latest_of_reads_the_same_as_latest_on_dynamodb() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_ledger_table(client)
        cards = [CARD_ARN.replace("Churn", f"Churn{n}") for n in range(5)]
        for index, arn in enumerate(cards):
            for n in range(index + 1):
                item = {**record(n, "failed" if n == 3 else "shared"), "cardArn": arn}
                client.put_item(TableName=TABLE, Item=to_item(item))
        ledger = DecisionLedger(client, TABLE)

        def picked(records: Any) -> dict[str, Any]:
            return {arn: r and (r["decidedAt"], r["outcome"]) for arn, r in records.items()}

        # The same record per card (a Scan reads only the attributes a verdict needs).
        assert picked(ledger.latest_of(cards)) == picked({arn: ledger.latest(arn) for arn in cards})
        assert set(ledger.latest_of(cards)[cards[0]] or {}) == {"cardArn", "decidedAt", "outcome"}


def test_latest_of_an_unreadable_ledger_raises_ledger_unavailable() -> None:
    class Broken(BrokenDynamoDB):
        def describe_table(self, **request: Any) -> dict[str, Any]:
            raise self.error

    with pytest.raises(LedgerUnavailableError):
        DecisionLedger(Broken(EndpointConnectionError(endpoint_url="x")), TABLE).latest_of(["a", "b"])
