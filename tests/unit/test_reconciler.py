"""reconcile() over in-memory fakes: one listing of cards and associations, repairs through the workflow."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from test_reconciliation import LADDER, SHARE, arn, card, rows

from cardshare.cards import Card
from cardshare.decisions import Converged, decide
from cardshare.events import RECONCILER_SOURCE, InvalidEventError, parse_event
from cardshare.evidence import Evidence, Sighting
from cardshare.gate_config import GateConfig
from cardshare.gates import GATED_STATUSES, evaluate
from cardshare.ledger import DecisionLedger, from_item, to_item
from cardshare.planner import AssociationStatus
from cardshare.reconciler import Fleet, LedgerUnavailableError, Report, reconcile
from cardshare.reconciliation import CardSummary, ResourceAssociation
from cardshare.status import CardStatus

S = AssociationStatus
ACCOUNT, REGION = "123456789012", "us-east-1"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
#: Step Functions execution names: 1-80 characters of letters, digits, '-' and '_'.
EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class FakeCards:
    def __init__(self, *cards: CardSummary) -> None:
        self.cards = list(cards)
        self.calls = 0

    def list_cards(self) -> list[CardSummary]:
        self.calls += 1
        return list(self.cards)


class FakeShares:
    def __init__(self, *associations: ResourceAssociation) -> None:
        self.associations = list(associations)
        self.calls: list[tuple[str, ...]] = []

    def all_associations(self, share_arns: Sequence[str]) -> list[ResourceAssociation]:
        self.calls.append(tuple(share_arns))
        return [a for a in self.associations if a.share_arn in share_arns]


class FakeLedger:
    def __init__(self, records: Mapping[str, Mapping[str, Any]] | None = None, *, unavailable: bool = False) -> None:
        self.records = dict(records or {})
        self.unavailable = unavailable
        self.calls: list[str] = []

    def latest_of(self, card_arns: Sequence[str]) -> Mapping[str, Mapping[str, Any] | None]:
        self.calls += card_arns
        if self.unavailable:
            raise LedgerUnavailableError("decision ledger unreadable")
        return {arn: self.records.get(arn) for arn in card_arns}


class FakeWorkflow:
    def __init__(self) -> None:
        self.started: list[tuple[str, dict[str, Any]]] = []

    def start(self, name: str, event: Mapping[str, Any]) -> str:
        assert name not in [n for n, _ in self.started], f"execution name {name} reused"
        self.started.append((name, dict(event)))
        return f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card:{name}"


def run(
    cards: FakeCards, shares: FakeShares, ledger: FakeLedger | None = None, *, dry_run: bool = False
) -> tuple[Report, FakeWorkflow]:
    workflow = FakeWorkflow()
    report = reconcile(LADDER, Fleet(cards, shares, ledger or FakeLedger(), workflow), dry_run=dry_run, now=NOW)
    return report, workflow


def drifting() -> tuple[FakeCards, FakeShares]:
    """Four cards: one converged, one missing test, one with prod shared by hand; and one deleted."""
    cards = FakeCards(
        card("converged", CardStatus.DRAFT),
        card("lost-event", CardStatus.PENDING_REVIEW),
        card("shared-by-hand", CardStatus.DRAFT),
    )
    shares = FakeShares(
        *rows("converged", {"dev": S.ASSOCIATED}),
        *rows("lost-event", {"dev": S.ASSOCIATED}),
        *rows("shared-by-hand", {"dev": S.ASSOCIATED, "prod": S.ASSOCIATED}),
        *rows("deleted", {"dev": S.ASSOCIATED}),
    )
    return cards, shares


def test_cards_and_associations_are_listed_once_per_run() -> None:
    cards, shares = drifting()
    run(cards, shares)
    assert cards.calls == 1
    assert shares.calls == [LADDER.share_arns]


class CountingDynamoDB:
    """The ledger table as DynamoDB answers it (one page: the table is small), counting calls by operation."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.items = [to_item(r) for r in records]
        self.calls: Counter[str] = Counter()

    def describe_table(self, **request: Any) -> dict[str, Any]:
        self.calls["DescribeTable"] += 1
        return {"Table": {"TableSizeBytes": len(json.dumps(self.items)), "ItemCount": len(self.items)}}

    def scan(self, **request: Any) -> dict[str, Any]:
        self.calls["Scan"] += 1
        return {"Items": self.items}

    def query(self, **request: Any) -> dict[str, Any]:
        self.calls["Query"] += 1
        card = request["ExpressionAttributeValues"][":card"]["S"]
        mine = [i for i in self.items if i["cardArn"]["S"] == card]
        return {"Items": sorted(mine, key=lambda i: i["decidedAt"]["S"], reverse=True)}


def test_fifty_gated_cards_cost_one_bulk_ledger_read_not_a_query_each() -> None:
    # 100 cards, half of them gated and shared as their ledger says: one DescribeTable and one Scan
    # page, whatever the number of gated cards. The per-gated-card Query would make it 50.
    statuses = [CardStatus.DRAFT, CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.APPROVED]
    listed = [card(f"c{i}", statuses[i % 4]) for i in range(100)]
    shared = {
        CardStatus.DRAFT: {"dev": S.ASSOCIATED},
        CardStatus.PENDING_REVIEW: {"dev": S.ASSOCIATED, "test": S.ASSOCIATED},
        CardStatus.APPROVED: {"dev": S.ASSOCIATED, "test": S.ASSOCIATED, "prod": S.ASSOCIATED},
    }
    records = [
        {
            "cardArn": c.arn,
            "decidedAt": f"2026-11-28T08:00:{n:02d}+00:00#run-{n}",
            "status": c.status.value,
            "effectiveStatus": c.status.value,
            "outcome": "shared",
        }
        for n, c in enumerate(listed)
        if c.status in GATED_STATUSES
    ]
    dynamodb = CountingDynamoDB(records)
    rows_ = [r for c in listed for r in rows(c.name, shared[c.status])]
    report = reconcile(
        LADDER,
        Fleet(FakeCards(*listed), FakeShares(*rows_), DecisionLedger(dynamodb, "ledger"), FakeWorkflow()),
        dry_run=True,
        now=NOW,
    )
    assert (report.cards, report.drift) == (100, [])
    assert dynamodb.calls == {"DescribeTable": 1, "Scan": 1}


def test_a_card_in_flight_costs_no_ledger_read() -> None:
    summary = CardSummary(arn("fresh"), "fresh", CardStatus.APPROVED, NOW.timestamp() - 10)
    shares = FakeShares(*rows("fresh", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}))
    ledger = FakeLedger()
    reconcile(
        LADDER, Fleet(FakeCards(summary), shares, ledger, FakeWorkflow()), dry_run=True, now=NOW, in_flight_seconds=60
    )
    assert ledger.calls == []


def test_dry_run_reports_and_starts_nothing() -> None:
    cards, shares = drifting()
    report, workflow = run(cards, shares, dry_run=True)
    assert workflow.started == []
    assert report.repairs == []
    assert report.to_dict() == {
        "cards": 3,
        "drifted": 3,
        "dryRun": True,
        "drift": [
            {
                "card": arn("lost-event"),
                "status": "PendingReview",
                "missing": ["test"],
                "extra": [],
                "misplaced": [],
                "reason": "missing test",
            },
            {
                "card": arn("shared-by-hand"),
                "status": "Draft",
                "missing": [],
                "extra": ["prod"],
                "misplaced": [],
                "reason": "unexpected prod",
            },
            {
                "card": arn("deleted"),
                "status": None,
                "missing": [],
                "extra": ["dev"],
                "misplaced": [],
                "reason": "card no longer exists; unexpected dev",
            },
        ],
        "repairs": [],
        "repairFailures": [],
    }


def test_one_repair_per_drifted_card_in_drift_order() -> None:
    cards, shares = drifting()
    report, workflow = run(cards, shares)
    assert [event["resources"] for _, event in workflow.started] == [
        [arn("lost-event")],
        [arn("shared-by-hand")],
        [arn("deleted")],
    ]
    assert report.repairs == [
        f"arn:aws:states:{REGION}:{ACCOUNT}:execution:cardshare-promote-card:{name}" for name, _ in workflow.started
    ]
    assert report.to_dict()["dryRun"] is False


def test_repairs_get_unique_valid_execution_names_across_runs() -> None:
    names: list[str] = []
    for _ in range(3):
        cards, shares = drifting()
        _, workflow = run(cards, shares)
        names += [name for name, _ in workflow.started]
    assert len(names) == len(set(names)) == 9
    assert all(EXECUTION_NAME.match(name) for name in names), names
    assert all(name.startswith("reconcile-") for name in names)


def test_the_repair_event_is_one_the_workflow_accepts() -> None:
    cards, shares = drifting()
    report, workflow = run(cards, shares)
    events = [event for _, event in workflow.started]
    parsed = [parse_event(event, ACCOUNT, REGION) for event in events]
    assert {p.source for p in parsed} == {RECONCILER_SOURCE}
    assert [p.card.arn for p in parsed] == [d.card_arn for d in report.drift]
    assert [p.status for p in parsed] == [CardStatus.PENDING_REVIEW, CardStatus.DRAFT, None]
    assert [e["detail"]["Reason"] for e in events] == [d.reason for d in report.drift]
    assert len({p.event_id for p in parsed}) == 3
    assert {p.time for p in parsed} == {NOW.isoformat()}


def test_the_repair_event_is_rejected_by_another_stack() -> None:
    cards, shares = drifting()
    _, workflow = run(cards, shares)
    with pytest.raises(InvalidEventError, match=r"^account:"):
        parse_event(workflow.started[0][1], "210987654321", REGION)


def test_no_drift_no_repair_and_no_ledger_read() -> None:
    cards = FakeCards(card("a", CardStatus.DRAFT), card("c", CardStatus.DRAFT))
    shares = FakeShares(*rows("a", {"dev": S.ASSOCIATED}), *rows("c", {"dev": S.ASSOCIATED, "prod": S.DISASSOCIATED}))
    ledger = FakeLedger()
    report, workflow = run(cards, shares, ledger)
    assert (report.cards, report.drift, report.repairs, workflow.started) == (2, [], [], [])
    assert ledger.calls == []


def test_a_converged_archived_card_is_checked_against_the_ledger() -> None:
    # Archived is gated (only an approved version may stay in prod): the ledger is read even when converged.
    cards = FakeCards(card("b", CardStatus.ARCHIVED))
    shares = FakeShares(*rows("b", {"prod": S.ASSOCIATED, "dev": S.DISASSOCIATED}))
    ledger = FakeLedger({arn("b"): {"status": "Archived", "effectiveStatus": "Archived"}})
    report, workflow = run(cards, shares, ledger)
    assert (report.drift, workflow.started) == ([], [])
    assert ledger.calls == [arn("b")]


def test_the_ledger_is_read_only_for_gated_or_drifted_cards() -> None:
    cards, shares = drifting()
    ledger = FakeLedger()
    run(cards, shares, ledger)
    assert ledger.calls == [arn("lost-event"), arn("shared-by-hand")]


def test_a_blocked_approval_recorded_in_the_ledger_is_not_repaired() -> None:
    cards = FakeCards(card("blocked", CardStatus.APPROVED))
    shares = FakeShares(*rows("blocked", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}))
    ledger = FakeLedger({arn("blocked"): {"status": "Approved", "effectiveStatus": "PendingReview"}})
    report, workflow = run(cards, shares, ledger)
    assert (report.drift, workflow.started) == ([], [])


def test_ledger_unavailable_falls_back_to_the_cards_status() -> None:
    # Without the ledger a blocked approval looks like drift; the repair lets the workflow judge
    # the card again (its approval gate fails closed while the ledger is unreadable).
    cards = FakeCards(card("blocked", CardStatus.APPROVED), card("fine", CardStatus.DRAFT))
    shares = FakeShares(
        *rows("blocked", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}), *rows("fine", {"dev": S.ASSOCIATED})
    )
    ledger = FakeLedger(unavailable=True)
    report, workflow = run(cards, shares, ledger)
    assert [(d.card_arn, d.missing) for d in report.drift] == [(arn("blocked"), ("prod",))]
    assert len(workflow.started) == 1
    assert ledger.calls == [arn("blocked")]


def test_associations_outside_the_ladders_shares_are_not_listed_or_judged() -> None:
    foreign = f"arn:aws:ram:{REGION}:{ACCOUNT}:resource-share/not-ours"
    cards = FakeCards(card("a", CardStatus.DRAFT))
    shares = FakeShares(
        *rows("a", {"dev": S.ASSOCIATED}),
        ResourceAssociation(arn("a"), foreign, S.ASSOCIATED),
        ResourceAssociation(arn("gone"), foreign, S.ASSOCIATED),
    )
    report, workflow = run(cards, shares)
    assert (report.drift, workflow.started) == ([], [])
    assert shares.calls == [tuple(SHARE.values())]


def test_a_resource_that_is_not_a_card_does_not_stop_the_run() -> None:
    cards, shares = drifting()
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/1"
    shares.associations.append(ResourceAssociation(package, SHARE["prod"], S.ASSOCIATED))
    report, workflow = run(cards, shares)
    assert len(report.repairs) == len(workflow.started) == 3
    assert package not in {d.card_arn for d in report.drift}


def test_a_repair_that_cannot_start_is_reported_and_the_others_still_start() -> None:
    class FlakyWorkflow(FakeWorkflow):
        def start(self, name: str, event: Mapping[str, Any]) -> str:
            if event["resources"][0] == arn("a"):
                raise RuntimeError("throttled")
            return super().start(name, event)

    workflow = FlakyWorkflow()
    cards = FakeCards(card("a", CardStatus.DRAFT), card("b", CardStatus.DRAFT))
    report = reconcile(LADDER, Fleet(cards, FakeShares(), FakeLedger(), workflow), dry_run=False, now=NOW)
    assert len(report.drift) == 2
    assert len(report.repairs) == 1
    assert report.failures == [f"{arn('a')}: throttled"]
    assert list(report.started) == [arn("b")]


def archived_without_approval_record(name: str) -> dict[str, Any]:
    """The ledger record of a draft archived without approval, as the plan recorded it and the reconciler reads it."""
    summary = card(name, CardStatus.ARCHIVED)
    archived = Card(summary.arn, name, CardStatus.ARCHIVED, 1, {}, modified_at=1_795_000_001.0)
    evidence = Evidence(
        frozenset(
            {
                Sighting(1_795_000_000_000, 1, CardStatus.DRAFT, None),
                Sighting(1_795_000_001_000, 1, CardStatus.ARCHIVED, None),
            }
        )
    )
    config = GateConfig()
    verdict = evaluate(archived, evidence, config, now=NOW.timestamp(), final=True)
    assert verdict.effective is None  # earned nothing: shared with no one
    record = decide(Converged(summary.arn, archived, verdict, [], ["dev"], "e-1", "exec:run-1", NOW, config)).record
    return from_item(to_item(record))


def test_an_archived_card_that_earned_nothing_but_was_put_in_prod_by_hand_is_drift() -> None:
    cards = FakeCards(card("abandoned", CardStatus.ARCHIVED))
    shares = FakeShares(*rows("abandoned", {"prod": S.ASSOCIATED}))  # associated by hand after the decision
    ledger = FakeLedger({arn("abandoned"): archived_without_approval_record("abandoned")})
    report, workflow = run(cards, shares, ledger)
    assert [(d.card_arn, d.missing, d.extra) for d in report.drift] == [(arn("abandoned"), (), ("prod",))]
    assert len(workflow.started) == 1


def test_an_archived_card_that_earned_nothing_is_not_drift_on_every_run() -> None:
    cards = FakeCards(card("abandoned", CardStatus.ARCHIVED))
    ledger = FakeLedger({arn("abandoned"): archived_without_approval_record("abandoned")})
    report, workflow = run(cards, FakeShares(), ledger)
    assert (report.drift, workflow.started) == ([], [])


def approved_card(modified_at: float) -> tuple[FakeCards, FakeShares]:
    summary = CardSummary(arn("edited"), "edited", CardStatus.APPROVED, modified_at)
    shared = rows("edited", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED, "prod": S.ASSOCIATED})
    return FakeCards(summary), FakeShares(*shared)


def last_decision(modified_at: float) -> FakeLedger:
    record = {"status": "Approved", "effectiveStatus": "Approved", "outcome": "shared", "modifiedAt": modified_at}
    return FakeLedger({arn("edited"): record})


def test_a_card_changed_after_its_last_decision_is_decided_again() -> None:
    # An edit SageMaker sent no event for: the shares still match the status, the version does not.
    decided_at = NOW.timestamp() - 3600
    cards, shares = approved_card(decided_at + 60)
    report, workflow = run(cards, shares, last_decision(decided_at))
    assert [(d.card_arn, d.reason) for d in report.drift] == [(arn("edited"), "changed since its last decision")]
    assert len(workflow.started) == 1


def test_the_same_change_read_twice_is_not_a_change() -> None:
    decided_at = NOW.timestamp() - 3600
    cards, shares = approved_card(decided_at + 0.001)
    report, _ = run(cards, shares, last_decision(decided_at))
    assert report.drift == []


def test_a_change_still_in_flight_is_left_to_its_execution() -> None:
    # Approved ten seconds ago, prod not shared yet: its execution is waiting for the evidence to settle.
    summary = CardSummary(arn("fresh"), "fresh", CardStatus.APPROVED, NOW.timestamp() - 10)
    shares = FakeShares(*rows("fresh", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}))
    workflow = FakeWorkflow()
    waiting = reconcile(
        LADDER, Fleet(FakeCards(summary), shares, FakeLedger(), workflow), dry_run=False, now=NOW, in_flight_seconds=60
    )
    assert (waiting.drift, workflow.started) == ([], [])
    later = reconcile(
        LADDER, Fleet(FakeCards(summary), shares, FakeLedger(), workflow), dry_run=False, now=NOW, in_flight_seconds=5
    )
    assert [d.missing for d in later.drift] == [("prod",)]
