"""Cards changed faster than cardshare reacts: executions for both cards run at the same time."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from e2e_support import (
    LEAD,
    Executions,
    assert_shared_per_ladder,
    card_content,
    describe,
    output,
    sagemaker,
    set_status,
)

from cardshare_local.runtime import LocalAws

CARDS = ("Churn-Model-Card", "Fraud-Model-Card")


def run_concurrently(system: LocalAws, moves: dict[str, list[str]]) -> dict[str, list[dict[str, Any]]]:
    """Create each card in Draft, then make every move (round-robin across cards) without waiting.

    Returns each card's execution outputs in the order they finished, after checking that every
    execution SUCCEEDED.
    """
    watch = Executions(system)
    lead = sagemaker(system, role=LEAD)
    arns = {
        name: lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus="Draft")[
            "ModelCardArn"
        ]
        for name in moves
    }
    for step in range(max(len(statuses) for statuses in moves.values())):
        for name, statuses in moves.items():
            if step < len(statuses):
                set_status(system, arns[name], statuses[step])
    executions = watch.new()
    assert len(executions) == sum(1 + len(statuses) for statuses in moves.values()), [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    by_card: dict[str, list[dict[str, Any]]] = defaultdict(list)
    # In the order they finished: the lease serializes each card's executions.
    for execution in sorted(executions, key=lambda e: e["stopDate"]):
        by_card[output(execution)["card"]].append(output(execution))
    assert sorted(by_card) == sorted(arns.values())
    return {name: by_card[arn] for name, arn in arns.items()}


def net_change(results: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Stages the card's executions added and removed, between them (two runs may both add one)."""
    added = {stage for r in results for stage in r["sharesAdded"]}
    removed = {stage for r in results for stage in r["sharesRemoved"]}
    return added, removed


def test_two_cards_moving_at_once_each_end_with_their_own_shares(system: LocalAws) -> None:
    # Churn goes to review, back to Draft and to review again; Fraud goes to review then straight
    # to Archived. Disassociations race with associations still in flight.
    moves = {CARDS[0]: ["PendingReview", "Draft", "PendingReview"], CARDS[1]: ["PendingReview", "Archived"]}
    results = run_concurrently(system, moves)

    churn, fraud = results[CARDS[0]], results[CARDS[1]]
    assert all(r["blocked"] == [] for r in churn + fraud), results
    assert {r["status"] for r in churn} <= {"Draft", "PendingReview"}, churn
    added, removed = net_change(churn)
    assert "dev" in added and added <= {"dev", "test"} and removed <= {"test"}, churn
    added, removed = net_change(fraud)
    assert "prod" in added and removed <= {"dev", "test"}, fraud
    # Each card ends shared as its own last status says, untouched by the other's executions.
    assert_shared_per_ladder(system, churn[0]["card"], "PendingReview")
    assert_shared_per_ladder(system, fraud[0]["card"], "Archived")


def test_two_cards_promoted_concurrently_reach_prod(system: LocalAws) -> None:
    moves = {name: ["PendingReview", "Approved"] for name in CARDS}
    results = run_concurrently(system, moves)

    # The card was approved before cardshare processed its earlier events. Executions of one card
    # are serialized by the lease, and approval history is ordered by event time, so whichever
    # event is processed last sees the whole trail: Draft, PendingReview, Approved. An earlier run
    # may judge with part of the trail (and block for a moment); the last one decides.
    for name in CARDS:
        outputs = results[name]
        added, _ = net_change(outputs)
        assert "prod" in added, outputs
        last = outputs[-1]
        assert (last["status"], last["effectiveStatus"], last["blocked"]) == ("Approved", "Approved", []), outputs
    for name in CARDS:
        assert_shared_per_ladder(system, results[name][0]["card"], "Approved")
