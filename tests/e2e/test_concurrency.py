"""Cards changed faster than cardshare reacts: executions of both cards, and of each card, run side by side.

Nothing serializes them: every round re-reads the card and RAM, a card still changing is not acted
on (the quiet period), and each execution converges on the card's status once it stands still.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from e2e_support import (
    LEAD,
    Executions,
    assert_consumers,
    assert_shared_per_ladder,
    card_content,
    describe,
    output,
    ram_tasks,
    sagemaker,
    set_status,
    stack,
)
from governance_support import outcomes

from cardshare_local.accounts import DEV_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.runtime import LocalAws

CARDS = ("Churn-Model-Card", "Fraud-Model-Card")


def run_concurrently(
    system: LocalAws, moves: dict[str, list[str]]
) -> tuple[dict[str, list[dict[str, Any]]], list[dict[str, Any]]]:
    """Create each card in Draft, then make every move (round-robin across cards) without waiting.

    Returns each card's execution outputs in the order the executions finished, and the
    executions, after checking that every one SUCCEEDED.
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
    for execution in sorted(executions, key=lambda e: e["stopDate"]):
        by_card[output(execution)["card"]].append(output(execution))
    assert sorted(by_card) == sorted(arns.values())
    return {name: by_card[arn] for name, arn in arns.items()}, executions


def net_change(results: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Stages the card's executions added and removed, between them (two runs may both add one)."""
    added = {stage for r in results for stage in r["sharesAdded"]}
    removed = {stage for r in results for stage in r["sharesRemoved"]}
    return added, removed


@stack()
def test_two_cards_moving_at_once_each_end_with_their_own_shares(system: LocalAws) -> None:
    # Churn goes to review, back to Draft and to review again: it is acted on once it stands still,
    # so test is never taken away on the way. Fraud goes to review then straight to Archived without
    # an approval: an archived card nobody approved is shared with no one, so its associations in
    # flight are taken away again.
    moves = {CARDS[0]: ["PendingReview", "Draft", "PendingReview"], CARDS[1]: ["PendingReview", "Archived"]}
    results, _ = run_concurrently(system, moves)

    churn, fraud = results[CARDS[0]], results[CARDS[1]]
    assert all(r["blocked"] == [] for r in churn), churn
    assert {r["status"] for r in churn} == {"PendingReview"}, churn
    assert net_change(churn) == ({"dev", "test"}, set()), churn
    assert_shared_per_ladder(system, churn[0]["card"], "PendingReview")

    assert {(r["status"], r["effectiveStatus"]) for r in fraud} == {("Archived", None)}, fraud
    assert any("not approved under the four-eyes rule" in reason for reason in fraud[-1]["blocked"]), fraud
    _, removed = net_change(fraud)
    assert removed <= {"dev", "test"}, fraud
    assert_consumers(system, fraud[0]["card"], {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", PROD_ACCOUNT: "none"})
    # Archiving a card nobody approved is no alarm.
    assert "blocked" not in outcomes(system, fraud[0]["card"]) + outcomes(system, churn[0]["card"])


def test_two_cards_promoted_concurrently_reach_prod_without_a_false_alarm(system: LocalAws) -> None:
    moves = {name: ["PendingReview", "Approved"] for name in CARDS}
    results, executions = run_concurrently(system, moves)

    # Each card was approved before cardshare processed its earlier events. Every execution waits
    # until the card stands still and the approval has settled (the local EvidenceWaitSeconds: what
    # it rests on is that every event arrives within it), so none of them judges it on part of its
    # history: no block, not even for a moment, and no share taken away on the way.
    for name in CARDS:
        card_outputs = results[name]
        added, removed = net_change(card_outputs)
        assert (added, removed) == ({"dev", "test", "prod"}, set()), card_outputs
        assert {(r["status"], r["effectiveStatus"]) for r in card_outputs} == {("Approved", "Approved")}
        assert all(r["blocked"] == [] for r in card_outputs), card_outputs
        assert "blocked" not in outcomes(system, card_outputs[0]["card"])
        assert_shared_per_ladder(system, card_outputs[0]["card"], "Approved")
    assert [task for e in executions for task in ram_tasks(system, e) if task == "Disassociate"] == []
