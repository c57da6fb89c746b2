"""find_drift and earned_from_record: which cards are shared differently from what they earned."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import pytest

from cardshare.gates import GATED_STATUSES
from cardshare.planner import AssociationStatus
from cardshare.policy import StageLadder, build_ladder
from cardshare.reconciliation import (
    CardSummary,
    Drift,
    ResourceAssociation,
    earned_from_record,
    find_drift,
    needs_record,
)
from cardshare.status import CardStatus

S = AssociationStatus
ACCOUNT, REGION = "123456789012", "us-east-1"
SHARE = {stage: f"arn:aws:ram:{REGION}:{ACCOUNT}:resource-share/{stage}-share" for stage in ("dev", "test", "prod")}
FOREIGN_SHARE = f"arn:aws:ram:{REGION}:{ACCOUNT}:resource-share/someone-elses-share"

#: The README's sharing table, written out by hand.
README_TABLE: dict[CardStatus, set[str]] = {
    CardStatus.DRAFT: {"dev"},
    CardStatus.PENDING_REVIEW: {"dev", "test"},
    CardStatus.APPROVED: {"dev", "test", "prod"},
    CardStatus.ARCHIVED: {"prod"},
}
LADDER: StageLadder = build_ladder(
    [
        {
            "name": stage,
            "access": "read-only" if stage == "prod" else "read-write",
            "principals": principal,
            "statuses": ",".join(s.value for s, stages in README_TABLE.items() if stage in stages),
            "shareArns": [SHARE[stage]],
        }
        for stage, principal in (("dev", "111111111111"), ("test", "222222222222"), ("prod", "333333333333"))
    ],
    ACCOUNT,
)


def arn(name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{name}"


def card(name: str, status: CardStatus) -> CardSummary:
    return CardSummary(arn(name), name, status)


def rows(name: str, states: Mapping[str, AssociationStatus], updated: float = 1.0) -> list[ResourceAssociation]:
    return [ResourceAssociation(arn(name), SHARE[stage], state, updated) for stage, state in states.items()]


class Earned:
    """The ``earned`` callback: a card's plain status unless told otherwise; records who was asked."""

    def __init__(self, overrides: Mapping[str, CardStatus | None] | None = None) -> None:
        self.overrides = dict(overrides or {})
        self.asked: list[str] = []

    def __call__(self, summary: CardSummary) -> CardStatus | None:
        self.asked.append(summary.name)
        return self.overrides.get(summary.name, summary.status)


def drift_of(cards: Iterable[CardSummary], associations: Iterable[ResourceAssociation], **kw: Any) -> list[Drift]:
    return find_drift(LADDER, list(cards), list(associations), kw.get("earned") or Earned())


# ---- every status against every combination of association states ------------------------------

#: What "holds" a card for drift purposes: on its way in counts as in, on its way out as out.
HOLDS = {S.ASSOCIATED, S.ASSOCIATING}
STATES: list[AssociationStatus | None] = [None, *AssociationStatus]


@pytest.mark.parametrize("status", list(CardStatus), ids=lambda s: s.value)
def test_every_combination_of_association_states(status: CardStatus) -> None:
    desired = README_TABLE[status]
    for combination in itertools.product(STATES, repeat=3):
        states = {stage: state for stage, state in zip(("dev", "test", "prod"), combination, strict=True) if state}
        held = {stage for stage, state in states.items() if state in HOLDS}
        missing, extra = tuple(sorted(desired - held)), tuple(sorted(held - desired))
        expected = [Drift(arn("card"), status, missing, extra)] if missing or extra else []
        assert drift_of([card("card", status)], rows("card", states)) == expected, states


@pytest.mark.parametrize("status", list(CardStatus), ids=lambda s: s.value)
def test_a_card_holding_exactly_its_stages_has_no_drift(status: CardStatus) -> None:
    states = dict.fromkeys(README_TABLE[status], S.ASSOCIATED)
    assert drift_of([card("card", status)], rows("card", states)) == []


# ---- the rules, one by one --------------------------------------------------------------------------


def test_failed_counts_as_missing() -> None:
    [drift] = drift_of([card("c", CardStatus.DRAFT)], rows("c", {"dev": S.FAILED}))
    assert (drift.missing, drift.extra) == (("dev",), ())


def test_failed_on_a_stage_not_earned_is_not_drift() -> None:
    assert drift_of([card("c", CardStatus.DRAFT)], rows("c", {"dev": S.ASSOCIATED, "prod": S.FAILED})) == []


def test_transitional_states_heading_the_right_way_are_not_drift() -> None:
    # A run is converging the card: dev is on its way in, prod on its way out.
    states = {"dev": S.ASSOCIATING, "prod": S.DISASSOCIATING}
    assert drift_of([card("c", CardStatus.DRAFT)], rows("c", states)) == []


def test_transitional_states_heading_the_wrong_way_are_drift() -> None:
    states = {"dev": S.DISASSOCIATING, "prod": S.ASSOCIATING}
    [drift] = drift_of([card("c", CardStatus.DRAFT)], rows("c", states))
    assert (drift.missing, drift.extra) == (("dev",), ("prod",))


def test_a_card_never_associated_misses_its_stages() -> None:
    [drift] = drift_of([card("c", CardStatus.APPROVED)], [])
    assert (drift.card_arn, drift.status, drift.missing, drift.extra) == (
        arn("c"),
        CardStatus.APPROVED,
        ("dev", "prod", "test"),
        (),
    )


def test_the_newest_row_of_a_share_wins() -> None:
    # RAM keeps DISASSOCIATED rows for a while: a re-association leaves two rows for one share.
    old_then_new = [
        ResourceAssociation(arn("c"), SHARE["dev"], S.DISASSOCIATED, 1.0),
        ResourceAssociation(arn("c"), SHARE["dev"], S.ASSOCIATED, 2.0),
    ]
    assert drift_of([card("c", CardStatus.DRAFT)], old_then_new) == []
    assert drift_of([card("c", CardStatus.DRAFT)], reversed(old_then_new)) == []
    removed_later = [
        ResourceAssociation(arn("c"), SHARE["dev"], S.ASSOCIATED, 1.0),
        ResourceAssociation(arn("c"), SHARE["dev"], S.DISASSOCIATED, 2.0),
    ]
    [drift] = drift_of([card("c", CardStatus.DRAFT)], removed_later)
    assert drift.missing == ("dev",)


def test_associations_with_foreign_shares_are_ignored() -> None:
    foreign = [
        ResourceAssociation(arn("c"), FOREIGN_SHARE, S.ASSOCIATED),
        ResourceAssociation(arn("unlisted"), FOREIGN_SHARE, S.ASSOCIATED),
    ]
    assert drift_of([card("c", CardStatus.DRAFT)], [*rows("c", {"dev": S.ASSOCIATED}), *foreign]) == []


def test_associations_of_other_resource_types_are_ignored() -> None:
    # Someone added a model package to the prod share by hand: not a card, not cardshare's to repair.
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/1"
    associations = [*rows("c", {"dev": S.ASSOCIATED}), ResourceAssociation(package, SHARE["prod"], S.ASSOCIATED)]
    assert drift_of([card("c", CardStatus.DRAFT)], associations) == []


def test_associations_of_other_cards_do_not_count() -> None:
    associations = rows("other", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED})
    cards = [card("c", CardStatus.PENDING_REVIEW), card("other", CardStatus.PENDING_REVIEW)]
    [drift] = drift_of(cards, associations)
    assert (drift.card_arn, drift.missing) == (arn("c"), ("dev", "test"))


# ---- cards that no longer exist ---------------------------------------------------------------------


def test_a_vanished_card_with_associations_is_drift() -> None:
    associations = [*rows("gone", {"dev": S.ASSOCIATED, "prod": S.ASSOCIATING}), *rows("c", {"dev": S.ASSOCIATED})]
    [drift] = drift_of([card("c", CardStatus.DRAFT)], associations)
    assert drift == Drift(arn("gone"), None, (), ("dev", "prod"))
    assert drift.reason == "card no longer exists; unexpected dev, prod"


@pytest.mark.parametrize("state", [S.DISASSOCIATED, S.DISASSOCIATING, S.FAILED])
def test_a_vanished_card_without_live_associations_is_not_drift(state: AssociationStatus) -> None:
    assert drift_of([], rows("gone", {"dev": state, "test": state})) == []


def test_vanished_cards_come_after_listed_ones_in_arn_order() -> None:
    associations = [*rows("zeta", {"dev": S.ASSOCIATED}), *rows("alpha", {"prod": S.ASSOCIATED})]
    drifts = drift_of([card("listed", CardStatus.DRAFT)], associations)
    assert [d.card_arn for d in drifts] == [arn("listed"), arn("alpha"), arn("zeta")]
    assert [d.status for d in drifts] == [CardStatus.DRAFT, None, None]


def test_vanished_cards_are_not_judged() -> None:
    earned = Earned()
    drift_of([], rows("gone", {"dev": S.ASSOCIATED}), earned=earned)
    assert earned.asked == []


# ---- what the card has earned (the governance gates, via the ledger) ------------------------------


#: Statuses a gate can hold back (review, approval, archive): the ledger is read for them even when converged.
GATED = {CardStatus.PENDING_REVIEW, CardStatus.APPROVED, CardStatus.ARCHIVED}


def test_the_gated_statuses_are_those_of_the_gate_registry() -> None:
    assert GATED_STATUSES == GATED


@pytest.mark.parametrize("status", list(CardStatus), ids=lambda s: s.value)
def test_earned_is_asked_about_gated_statuses_and_about_suspects_only(status: CardStatus) -> None:
    earned = Earned()
    converged = rows("converged", dict.fromkeys(README_TABLE[status], S.ASSOCIATED))
    drift_of([card("converged", status), card("suspect", status)], converged, earned=earned)
    # "suspect" holds nothing, so it differs from its plain status whatever that is.
    assert earned.asked == (["converged", "suspect"] if status in GATED else ["suspect"])


def test_a_blocked_approval_explained_by_what_it_earned_is_not_drift() -> None:
    earned = Earned({"blocked": CardStatus.PENDING_REVIEW})
    associations = rows("blocked", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED})
    assert drift_of([card("blocked", CardStatus.APPROVED)], associations, earned=earned) == []


def test_drift_is_measured_against_what_the_card_earned() -> None:
    earned = Earned({"blocked": CardStatus.PENDING_REVIEW})
    [drift] = drift_of([card("blocked", CardStatus.APPROVED)], rows("blocked", {"dev": S.ASSOCIATED}), earned=earned)
    # The status stays the card's own; the missing stage is the one the earned status calls for.
    assert (drift.status, drift.missing, drift.extra) == (CardStatus.APPROVED, ("test",), ())


def test_a_card_that_earned_nothing_has_every_association_extra() -> None:
    earned = Earned({"c": None})
    [drift] = drift_of(
        [card("c", CardStatus.DRAFT)], rows("c", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}), earned=earned
    )
    assert (drift.missing, drift.extra) == ((), ("dev", "test"))


def test_an_archived_card_that_earned_nothing_but_is_in_prod_is_drift() -> None:
    # Archived without a four-eyes approval: shared with no one, so a prod association is extra.
    earned = Earned({"abandoned": None})
    [drift] = drift_of(
        [card("abandoned", CardStatus.ARCHIVED)], rows("abandoned", {"prod": S.ASSOCIATED}), earned=earned
    )
    assert (drift.status, drift.missing, drift.extra) == (CardStatus.ARCHIVED, (), ("prod",))
    assert earned.asked == ["abandoned"]


def test_an_archived_card_that_earned_nothing_and_holds_nothing_is_not_drift() -> None:
    earned = Earned({"abandoned": None})
    assert drift_of([card("abandoned", CardStatus.ARCHIVED)], [], earned=earned) == []
    assert earned.asked == ["abandoned"]


def test_a_blocked_approval_shared_with_prod_by_hand_is_drift() -> None:
    earned = Earned({"blocked": CardStatus.PENDING_REVIEW})
    associations = rows("blocked", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED, "prod": S.ASSOCIATED})
    [drift] = drift_of([card("blocked", CardStatus.APPROVED)], associations, earned=earned)
    assert drift.extra == ("prod",)


# ---- Drift as reported ------------------------------------------------------------------------------


def test_drift_reason_and_dict() -> None:
    drift = Drift(arn("c"), CardStatus.APPROVED, ("prod", "test"), ("archive",))
    assert drift.reason == "missing prod, test; unexpected archive"
    assert drift.to_dict() == {
        "card": arn("c"),
        "status": "Approved",
        "missing": ["prod", "test"],
        "extra": ["archive"],
        "misplaced": [],
        "reason": "missing prod, test; unexpected archive",
    }
    assert Drift(arn("c"), None, (), ("dev",)).to_dict()["status"] is None


# ---- earned_from_record -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        pytest.param(None, CardStatus.APPROVED, id="no-record"),
        pytest.param({}, CardStatus.APPROVED, id="empty-record"),
        pytest.param(
            {"status": "Approved", "effectiveStatus": "PendingReview"}, CardStatus.PENDING_REVIEW, id="blocked-approval"
        ),
        pytest.param({"status": "Approved", "effectiveStatus": "Approved"}, CardStatus.APPROVED, id="approved"),
        pytest.param(
            {"status": "PendingReview", "effectiveStatus": "Draft"}, CardStatus.APPROVED, id="record-of-another-status"
        ),
        # A decision about this status that shares nothing (the ledger item leaves the None out).
        pytest.param({"status": "Archived", "effectiveStatus": None}, None, id="no-effective-status"),
        pytest.param({"status": "Archived"}, None, id="effective-status-absent"),
        # A failed execution decided nothing: the card's own status stands.
        pytest.param({"status": "Archived", "outcome": "failed"}, CardStatus.ARCHIVED, id="failed-record"),
    ],
)
def test_earned_from_record(record: dict[str, Any] | None, expected: CardStatus | None) -> None:
    status = CardStatus(record["status"]) if record and record.get("status") == "Archived" else CardStatus.APPROVED
    assert earned_from_record(card("c", status), record) is expected


def test_the_ledger_is_needed_for_gated_cards_and_for_cards_shared_otherwise_than_their_status() -> None:
    S = AssociationStatus
    cards = [
        card("draft-ok", CardStatus.DRAFT),
        card("draft-extra", CardStatus.DRAFT),
        card("review-ok", CardStatus.PENDING_REVIEW),
        card("approved-held-back", CardStatus.APPROVED),
        card("archived", CardStatus.ARCHIVED),
    ]
    associations = [
        *rows("draft-ok", {"dev": S.ASSOCIATED}),
        *rows("draft-extra", {"dev": S.ASSOCIATED, "prod": S.ASSOCIATED}),
        *rows("review-ok", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}),
        *rows("approved-held-back", {"dev": S.ASSOCIATED, "test": S.ASSOCIATED}),
    ]
    assert needs_record(LADDER, cards, associations) == [
        arn(name) for name in ("draft-extra", "review-ok", "approved-held-back", "archived")
    ]
