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
    output,
    ram_tasks,
    reach,
    sagemaker,
    set_status,
    stack,
    start,
    state_change_event,
)

from cardshare_local.accounts import DEV_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.runtime import LocalAws

CARD = "Customer-Churn-Model-Card"


@stack()
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


@stack()
def test_backward_moves_take_access_away(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview", "Approved")
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


@stack()
def test_archived_card_comes_back_per_ladder_and_a_new_version_only_through_review(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview", "Approved", "Archived")
    watch = Executions(system, skip_existing=True)
    lead = sagemaker(system, role=LEAD)

    # Approved again, the same version: it was reviewed and approved by someone who did not author
    # it, so the stages archiving took away come back, and prod keeps the card throughout.
    set_status(system, arn, "Approved")
    [again] = watch.new()
    assert_succeeded([again], added={"dev", "test"}, status="Approved")
    assert ram_tasks(system, again) == ["Associate", "Associate"]
    assert_shared_per_ladder(system, arn, "Approved")

    # Archived again, then edited: nobody approved version 2, so nobody sees it any more.
    set_status(system, arn, "Archived")
    assert_succeeded(watch.new(), removed={"dev", "test"}, status="Archived")
    lead.update_model_card(ModelCardName=CARD, Content=card_content("edited while archived"))
    [edited] = watch.new()
    result = output(edited)
    assert (result["status"], result["version"], result["effectiveStatus"], result["sharesRemoved"]) == (
        "Archived",
        2,
        None,
        ["prod"],
    )
    assert result["blocked"] == ["version 2 was not approved under the four-eyes rule before it was archived"]
    assert_consumers(system, arn, dict.fromkeys(CONSUMERS.values(), "none"))

    # Approving version 2 straight skips its review: no prod, review-level sharing (version 1 was reviewed).
    set_status(system, arn, "Approved")
    result = assert_succeeded(watch.new(), added={"dev", "test"}, status="Approved", blocked_as="PendingReview")
    assert any("version 2 was never seen in PendingReview" in reason for reason in result["blocked"]), result
    assert_shared_per_ladder(system, arn, "PendingReview")

    # Through review and a proper approval, every stage gets version 2, as the ladder says.
    set_status(system, arn, "PendingReview")
    assert_succeeded(watch.new(), status="PendingReview")
    set_status(system, arn, "Approved")
    assert_succeeded(watch.new(), added={"prod"}, status="Approved")
    assert_shared_per_ladder(system, arn, "Approved")
    for account in CONSUMERS.values():
        card = consumer(system, account).describe_model_card(ModelCardName=arn)
        assert (card["ModelCardStatus"], card["ModelCardVersion"]) == ("Approved", 2)


@stack()
def test_deleted_card_loses_every_association(system: LocalAws) -> None:
    arn = reach(system, CARD, "Draft", "PendingReview", "Approved")
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
