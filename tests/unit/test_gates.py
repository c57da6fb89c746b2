"""The gate registry and the four-eyes rule, judged on evidence at a given moment."""

from __future__ import annotations

from dataclasses import replace

import pytest
from governance_world import (
    ACCOUNT,
    ALICE,
    ALICE_AGAIN,
    CARD_ARN,
    CAROL,
    CONTENT,
    DAVE,
    DEV_APPROVER,
    JANE,
    STUDIO_ROLE,
)

from cardshare.approval import Check, Question, judge_approval
from cardshare.cards import Card
from cardshare.evidence import Creation, Evidence, Sighting
from cardshare.gate_config import GateConfig, RawGateSettings, parse_gate_config
from cardshare.gates import GATED_STATUSES, GATES, evaluate
from cardshare.identity import Actor
from cardshare.policy import ConfigError
from cardshare.status import CardStatus

D, P, A, X = CardStatus.DRAFT, CardStatus.PENDING_REVIEW, CardStatus.APPROVED, CardStatus.ARCHIVED
WAIT = 10
CONFIG = GateConfig(approver_accounts=frozenset({ACCOUNT}), evidence_wait_seconds=WAIT)
T0 = 1_790_000_000_000  # ms
LATER = (T0 + 60_000) / 1000  # seconds: long after every change below


def history(*steps: tuple[int, int, CardStatus, Actor], creator: Actor = ALICE) -> Evidence:
    """Evidence of ``(ms after T0, version, status, actor)`` steps; the first is the creation."""
    return Evidence(
        frozenset(Sighting(T0 + at, version, status, actor) for at, version, status, actor in steps),
        frozenset({Creation(T0 + steps[0][0], creator)}),
    )


def card_at(evidence: Evidence, content: dict[str, object] | None = None) -> Card:
    """The card as the newest sighting shows it."""
    last = max(evidence.sightings)
    created = min(evidence.creations)
    return Card(
        CARD_ARN,
        "card",
        last.status,
        last.version,
        CONTENT if content is None else content,
        created.actor,
        last.actor,
        last.at / 1000,
        created.at / 1000,
    )


def approval(evidence: Evidence, now: float = LATER, config: GateConfig = CONFIG) -> Check:
    card = card_at(evidence)
    return judge_approval(Question(evidence, card.version, int(card.modified_at * 1000), int(now * 1000), config)).check  # type: ignore[operator]


PROPER = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, JANE))


# ---- the four-eyes rule ---------------------------------------------------------------------------


def test_a_proper_approval_passes_once_settled() -> None:
    assert approval(PROPER) is Check.PASS
    # Before the evidence wait has passed a late event could still name the approver an author.
    assert approval(PROPER, now=(T0 + 200 + WAIT * 1000 - 1) / 1000) is Check.PENDING


@pytest.mark.parametrize(
    ("approver", "reason"),
    [
        pytest.param(ALICE, "separation of duties", id="author"),
        pytest.param(ALICE_AGAIN, "separation of duties", id="author-new-session"),
        pytest.param(DEV_APPROVER, "not in an approver account", id="dev-account"),
    ],
)
def test_approvers_the_rule_refuses_fail_at_once(approver: Actor, reason: str) -> None:
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, approver))
    card = card_at(evidence)
    # Immediately, before any wait: more evidence could only add authors.
    finding = judge_approval(Question(evidence, 1, T0 + 200, T0 + 201, CONFIG))
    assert finding.check is Check.FAIL
    assert any(reason in r for r in finding.reasons)
    assert card.status is A


def test_whoever_submitted_the_version_cannot_approve_it() -> None:
    evidence = history((0, 1, D, ALICE), (100, 1, P, JANE), (200, 1, A, JANE))
    assert approval(evidence) is Check.FAIL


def test_the_editor_who_made_the_version_cannot_approve_it() -> None:
    evidence = history((0, 1, D, ALICE), (50, 2, D, JANE), (100, 2, P, ALICE), (200, 2, A, JANE))
    assert approval(evidence) is Check.FAIL


def test_someone_who_only_sent_it_back_to_draft_may_approve() -> None:
    # PendingReview -> Draft -> Approved at the same version: the reviewed content is what is approved.
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (150, 1, D, JANE), (200, 1, A, JANE))
    assert approval(evidence) is Check.PASS


def test_a_version_never_seen_in_review_fails_once_settled() -> None:
    evidence = history((0, 1, D, ALICE), (200, 1, A, JANE))
    assert approval(evidence, now=(T0 + 300) / 1000) is Check.PENDING
    assert approval(evidence) is Check.FAIL


def test_review_of_an_earlier_version_does_not_count() -> None:
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (150, 1, D, ALICE), (160, 2, D, ALICE), (200, 2, A, JANE))
    assert approval(evidence) is Check.FAIL


def test_an_edit_after_approval_is_a_stale_approval() -> None:
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, JANE), (300, 2, A, ALICE))
    card = card_at(evidence)
    finding = judge_approval(Question(evidence, 2, int(card.modified_at * 1000), int(LATER * 1000), CONFIG))  # type: ignore[operator]
    assert (finding.check, finding.stale) == (Check.FAIL, True)


def test_approving_again_makes_the_later_approver_the_one_judged() -> None:
    # The author approves (refused), then an approver approves again: the approval judged is the last.
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, ALICE), (400, 1, A, JANE))
    assert approval(evidence, now=(T0 + 500) / 1000) is Check.PENDING
    assert approval(evidence) is Check.PASS
    # ... and the author setting Approved again over a proper approval makes the author the approver.
    again = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, JANE), (400, 1, A, ALICE))
    assert approval(again) is Check.FAIL


def test_a_missing_approval_change_waits_then_fails() -> None:
    # The first thing seen of version 2 is its approval: the edit that made it was not seen.
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (400, 2, A, JANE))
    assert approval(evidence, now=(T0 + 500) / 1000) is Check.PENDING
    assert approval(evidence) is Check.FAIL


@pytest.mark.parametrize(("gap_ms", "check"), [(0, Check.FAIL), (1, Check.PASS)])
def test_a_review_and_an_approval_in_the_same_millisecond_cannot_be_ordered_and_fail_closed(
    gap_ms: int, check: Check
) -> None:
    # SageMaker's times have millisecond precision: in the same millisecond nothing says the
    # submission came first, so the approval is refused, never guessed; a millisecond apart it is ordered.
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (100 + gap_ms, 1, A, JANE))
    assert approval(evidence) is check
    # Approving again, later, is ordered after the review either way (README, Limits).
    again = history((0, 1, D, ALICE), (100, 1, P, ALICE), (100 + gap_ms, 1, A, JANE), (400, 1, A, JANE))
    assert approval(again) is Check.PASS


@pytest.mark.parametrize(
    ("author", "approver", "check"),
    [
        pytest.param(CAROL, STUDIO_ROLE, Check.FAIL, id="studio-author-role-approver"),
        pytest.param(STUDIO_ROLE, CAROL, Check.FAIL, id="role-author-studio-approver"),
        pytest.param(CAROL, DAVE, Check.PASS, id="two-studio-users"),
    ],
)
def test_studio_people(author: Actor, approver: Actor, check: Check) -> None:
    evidence = history((0, 1, D, author), (100, 1, P, author), (200, 1, A, approver), creator=author)
    assert approval(evidence) is check


def test_the_allow_list_matches_role_or_profile() -> None:
    listed = replace(CONFIG, approver_patterns=(f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",))
    assert approval(PROPER, config=listed) is Check.PASS
    evil = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, replace(JANE, role=JANE.role + "Evil")))  # type: ignore[operator]
    assert approval(evil, config=listed) is Check.FAIL
    profiles = replace(CONFIG, approver_patterns=(f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/*/dave",))
    studio = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, DAVE))
    assert approval(studio, config=profiles) is Check.PASS
    assert approval(PROPER, config=profiles) is Check.FAIL


def test_an_approver_nobody_can_name_fails_closed() -> None:
    evidence = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, None))  # type: ignore[arg-type]
    assert approval(evidence) is Check.FAIL


# ---- the registry -----------------------------------------------------------------------------------


def test_every_gated_status_comes_from_the_registry() -> None:
    assert {s for gate in GATES for s in gate.statuses} == GATED_STATUSES == {P, A, X}
    assert [gate.name for gate in GATES] == ["review", "approval", "archive"]


def verdict(evidence: Evidence, content: dict[str, object] | None = None, now: float = LATER) -> object:
    return evaluate(card_at(evidence, content), evidence, CONFIG, now=now)


def test_review_gate_holds_an_incomplete_card_at_draft_and_skips_the_approval() -> None:
    result = verdict(PROPER, content={"model_overview": {}})
    assert result.effective is D  # type: ignore[attr-defined]
    assert [r.gate for r in result.results] == ["review"]  # type: ignore[attr-defined]
    assert result.blocked  # type: ignore[attr-defined]


def test_a_pending_approval_holds_at_review_level() -> None:
    result = verdict(PROPER, now=(T0 + 300) / 1000)
    assert result.pending
    assert result.hold is P
    assert not result.blocked
    assert 0 < result.wait_seconds <= WAIT  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("steps", "fallback"),
    [
        pytest.param([(0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, ALICE)], P, id="reviewed-keeps-test"),
        pytest.param([(0, 1, D, ALICE), (200, 1, A, JANE)], D, id="never-reviewed-draft"),
    ],
)
def test_a_refused_approval_falls_back(steps: list[tuple[int, int, CardStatus, Actor]], fallback: CardStatus) -> None:
    result = verdict(history(*steps))
    assert (result.effective, result.blocked, result.revert) == (fallback, True, True)  # type: ignore[attr-defined]


def test_unreadable_evidence_withholds_prod_without_revert() -> None:
    card = card_at(PROPER)
    result = evaluate(card, None, CONFIG, now=LATER)
    assert (result.effective, result.blocked, result.revert, bool(result.pending)) == (P, True, False, False)
    assert evaluate(card, None, CONFIG, now=(T0 + 300) / 1000).pending


def test_archive_keeps_prod_only_for_an_approved_version() -> None:
    approved_then_archived = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, JANE), (300, 1, X, ALICE))
    assert verdict(approved_then_archived).effective is X  # type: ignore[attr-defined]
    never_approved = history((0, 1, D, ALICE), (300, 1, X, ALICE))
    result = verdict(never_approved)
    # Shared with no one; not an alarm (archiving a draft is normal).
    assert (result.effective, result.blocked) == (None, False)  # type: ignore[attr-defined]
    waiting = verdict(never_approved, now=(T0 + 400) / 1000)
    assert waiting.pending
    assert waiting.hold is X


def test_facts_of_a_deleted_card_with_the_same_name_do_not_count() -> None:
    old = history((0, 1, D, ALICE), (100, 1, P, ALICE), (200, 1, A, JANE))
    recreated = Evidence(
        frozenset({Sighting(T0 + 5000, 1, D, ALICE), Sighting(T0 + 5100, 1, A, JANE)}),
        frozenset({Creation(T0 + 5000, ALICE)}),
    )
    result = evaluate(card_at(recreated), old.merged(recreated), CONFIG, now=LATER)
    assert result.effective is D  # the old card's review does not review the new one


@pytest.mark.parametrize("status", [D, None])
def test_ungated_statuses_and_missing_cards(status: CardStatus | None) -> None:
    if status is None:
        assert evaluate(None, Evidence(), CONFIG, now=LATER).effective is None
        return
    result = verdict(history((0, 1, status, ALICE)))
    assert (result.effective, result.results) == (D, ())  # type: ignore[attr-defined]


def test_without_content_edit_events_the_visible_authors_decide() -> None:
    # The edit that made version 2 was never reported: its creation is a gap.
    unseen_edit = history((0, 1, D, ALICE), (100, 2, P, ALICE), (200, 2, A, JANE))
    assert approval(unseen_edit) is Check.FAIL
    missing = replace(CONFIG, edit_events=False)
    assert approval(unseen_edit, config=missing) is Check.PASS
    # The submitter is still an author.
    self_submitted = history((0, 1, D, ALICE), (100, 2, P, JANE), (200, 2, A, JANE))
    assert approval(self_submitted, config=missing) is Check.FAIL


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (RawGateSettings(approvers="arn:aws:iam::*:role/ModelApprover"), r"^ApproverAllowList .*one 12-digit account"),
        (RawGateSettings(approvers="ModelApprover"), r"^ApproverAllowList .*not an IAM role/user ARN"),
        (
            RawGateSettings(approvers="arn:aws:sagemaker:us-east-1:*:user-profile/d-1/x"),
            r"^ApproverAllowList .*one 12-digit account",
        ),
        (RawGateSettings(approver_accounts="12345"), r"^ApproverAccountIds .*'12345'"),
        (RawGateSettings(enforcement="block"), r"^ApprovalEnforcement .*'block'"),
        (RawGateSettings(required_fields="model overview"), r"^ReviewRequiredFields .*'model overview'"),
        (RawGateSettings(content_edit_events="sometimes"), r"^ContentEditEvents .*'sometimes'"),
    ],
)
def test_bad_gate_settings_name_the_parameter(raw: RawGateSettings, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_gate_config(raw, ACCOUNT, WAIT)


def test_gate_setting_defaults() -> None:
    config = parse_gate_config(RawGateSettings(), ACCOUNT, WAIT)
    assert (config.approver_accounts, config.approver_patterns, config.edit_events) == (
        frozenset({ACCOUNT}),
        (),
        True,
    )
    listed = parse_gate_config(
        RawGateSettings(approvers=f" arn:aws:iam::{ACCOUNT}:role/ModelApprover* ,", approver_accounts="111111111111"),
        ACCOUNT,
        WAIT,
    )
    assert listed.approver_patterns == (f"arn:aws:iam::{ACCOUNT}:role/ModelApprover*",)
    assert listed.approver_accounts == frozenset({"111111111111"})


def test_an_allow_listed_role_with_a_path_matches_its_sessions() -> None:
    # The session ARN (assumed-role/ModelApprover/jane) carries no path; the role's ARN does.
    raw = RawGateSettings(approvers=f"arn:aws:iam::{ACCOUNT}:role/governance/ModelApprover")
    listed = replace(parse_gate_config(raw, ACCOUNT, WAIT), evidence_wait_seconds=WAIT)
    assert approval(PROPER, config=listed) is Check.PASS
