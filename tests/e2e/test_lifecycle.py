"""The card lifecycle end to end: people change cards through SageMaker, cardshare keeps RAM in step."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from e2e_support import (
    APPROVER,
    CONSUMERS,
    LEAD,
    README_TABLE,
    SCIENTIST,
    Executions,
    assert_associations,
    assert_consumers,
    assert_shared_per_ladder,
    assert_succeeded,
    card_content,
    consumer,
    error_code,
    ladder_access,
    ladder_stages,
    ram_tasks,
    sagemaker,
    set_status,
    start,
    state_change_event,
    walk,
)

from cardshare_local.accounts import DEV_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.runtime import LocalAws

CARD = "Customer-Churn-Model-Card"


def test_full_lifecycle(system: LocalAws) -> None:
    # The deployed ladder is the README's table, written out by hand.
    for status, expected in README_TABLE.items():
        assert ladder_access(system, status) == expected, status
    assert ladder_access(system, None) == dict.fromkeys(CONSUMERS.values(), "none")

    lead = sagemaker(system, role=LEAD)
    scientist = sagemaker(system, role=SCIENTIST)
    approver = sagemaker(system, role=APPROVER)
    dev_scientist = consumer(system, DEV_ACCOUNT)
    watch = Executions(system)
    shared: set[str] = set()

    def reacted(status: str, version: int) -> None:
        nonlocal shared
        wanted = ladder_stages(system, status)
        result = assert_succeeded(watch.new(), added=wanted - shared, removed=shared - wanted, status=status)
        assert result["version"] == version
        assert result["card"] == arn
        assert_shared_per_ladder(system, arn, status)
        shared = wanted

    arn = lead.create_model_card(ModelCardName=CARD, Content=card_content(with_uses=False), ModelCardStatus="Draft")[
        "ModelCardArn"
    ]
    reacted("Draft", 1)

    # Dev is read-write: a data scientist in the dev account adds the intended uses by ARN (which
    # the review gate requires). A content-only edit is a new version in the same status, and a
    # no-op for cardshare.
    dev_scientist.update_model_card(ModelCardName=arn, Content=card_content(with_uses=True))
    reacted("Draft", 2)
    assert "intended_uses" in lead.describe_model_card(ModelCardName=CARD)["Content"]

    scientist.update_model_card(ModelCardName=CARD, ModelCardStatus="PendingReview")
    reacted("PendingReview", 2)

    approver.update_model_card(ModelCardName=CARD, ModelCardStatus="Approved")
    reacted("Approved", 2)
    # Written out by hand, independently of the ladder: every stage holds the approved card.
    assert_associations(system, arn, {"dev", "test", "prod"})
    assert_consumers(system, arn, {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "read-only"})
    for account in CONSUMERS.values():
        card = consumer(system, account).describe_model_card(ModelCardName=arn)
        assert (card["ModelCardStatus"], card["ModelCardVersion"]) == ("Approved", 2)
    with pytest.raises(ClientError) as refused:
        consumer(system, PROD_ACCOUNT).update_model_card(ModelCardName=arn, ModelCardStatus="Archived")
    assert error_code(refused) == "AccessDeniedException"

    lead.update_model_card(ModelCardName=CARD, ModelCardStatus="Archived")
    reacted("Archived", 2)
    assert_associations(system, arn, {"prod"})


def test_backward_moves_take_access_away(system: LocalAws) -> None:
    arn = walk(system, CARD, "Draft", "PendingReview", "Approved")
    watch = Executions(system, skip_existing=True)
    rw, ro, none = "read-write", "read-only", "none"
    # (to, removed, added, access written out by hand), one move after the other.
    moves = [
        ("Draft", {"test", "prod"}, set(), {DEV_ACCOUNT: rw, TEST_ACCOUNT: none, PROD_ACCOUNT: none}),
        ("PendingReview", set(), {"test"}, {DEV_ACCOUNT: rw, TEST_ACCOUNT: rw, PROD_ACCOUNT: none}),
        ("Draft", {"test"}, set(), {DEV_ACCOUNT: rw, TEST_ACCOUNT: none, PROD_ACCOUNT: none}),
        ("PendingReview", set(), {"test"}, {DEV_ACCOUNT: rw, TEST_ACCOUNT: rw, PROD_ACCOUNT: none}),
        ("Approved", set(), {"prod"}, {DEV_ACCOUNT: rw, TEST_ACCOUNT: rw, PROD_ACCOUNT: ro}),
        ("PendingReview", {"prod"}, set(), {DEV_ACCOUNT: rw, TEST_ACCOUNT: rw, PROD_ACCOUNT: none}),
    ]
    before = ladder_stages(system, "Approved")
    for to, removed, added, access in moves:
        set_status(system, arn, to)
        assert_succeeded(watch.new(), added=added, removed=removed, status=to)
        after = ladder_stages(system, to)
        assert (before - after, after - before) == (removed, added), to  # the hand-written move is the ladder's
        assert access == ladder_access(system, to)
        assert_associations(system, arn, after)
        assert_consumers(system, arn, access)
        before = after


def test_archived_card_is_restored_per_ladder_through_review(system: LocalAws) -> None:
    arn = walk(system, CARD, "Draft", "PendingReview", "Approved", "Archived")
    watch = Executions(system, skip_existing=True)

    # Straight back to Approved skips review: the approval gate holds the card at Archived (prod only).
    set_status(system, arn, "Approved")
    result = assert_succeeded(watch.new(), status="Approved", blocked_as="Archived")
    assert any("approval must follow PendingReview" in reason for reason in result["blocked"]), result
    assert_shared_per_ladder(system, arn, "Archived")

    # Through review and a proper approval, every stage gets the card back, as the ladder says.
    set_status(system, arn, "PendingReview")
    assert_succeeded(watch.new(), added={"dev", "test"}, removed={"prod"}, status="PendingReview")
    set_status(system, arn, "Approved")
    assert_succeeded(watch.new(), added={"prod"}, status="Approved")
    assert_associations(system, arn, {"dev", "test", "prod"})
    assert_consumers(system, arn, {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "read-only"})
    assert_shared_per_ladder(system, arn, "Approved")


def test_deleted_card_loses_every_association(system: LocalAws) -> None:
    arn = walk(system, CARD, "Draft", "PendingReview", "Approved")
    watch = Executions(system, skip_existing=True)

    sagemaker(system, role=LEAD).delete_model_card(ModelCardName=CARD)
    assert watch.new() == []  # SageMaker emits no state-change event for a deletion
    with pytest.raises(ClientError) as gone:
        sagemaker(system, role=LEAD).describe_model_card(ModelCardName=arn)
    assert error_code(gone) == "ResourceNotFound"

    # The next event for the card (a late one, or the reconciler's) converges it on "gone".
    start(system, state_change_event(CARD, "Approved"))
    [execution] = watch.new()
    result = assert_succeeded([execution], removed={"dev", "test", "prod"}, status=None, exists=False)
    assert result["version"] is None
    assert sorted(ram_tasks(system, execution)) == ["Disassociate"] * 3
    assert_associations(system, arn, set())
    assert_consumers(system, arn, dict.fromkeys(CONSUMERS.values(), "none"))
