"""Governance gates: configuration, identities, the review gate, the approval gate, and evaluate()."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cardshare.cards import Card, Identity
from cardshare.gates import (
    DEFAULT_REQUIRED_FIELDS,
    TRAIL_LENGTH,
    Enforcement,
    GateConfig,
    GateResult,
    History,
    Verdict,
    approval_gate,
    evaluate,
    parse_gate_config,
    review_gate,
)
from cardshare.policy import ConfigError
from cardshare.status import CardStatus

ACCOUNT = "123456789012"
CARD_ARN = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-card/Customer-Churn-Model-Card"
DOMAIN = "d-cardshare0001"
# The execution role every Studio user of the domain shares, as an STS session ARN.
SHARED_ROLE = f"arn:aws:sts::{ACCOUNT}:assumed-role/AmazonSageMaker-ExecutionRole-20240101/SageMaker"


def studio_user(name: str) -> Identity:
    return Identity(
        user_profile_arn=f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/{DOMAIN}/{name}", iam_arn=SHARED_ROLE
    )


def role_session(role: str, session: str, account: str = ACCOUNT) -> Identity:
    return Identity(iam_arn=f"arn:aws:sts::{account}:assumed-role/{role}/{session}")


AUTHOR = role_session("DataScientist", "alice")
APPROVER = role_session("ModelApprover", "jane")
CONTENT: dict[str, Any] = {
    "model_overview": {"model_owner": "churn-team", "problem_type": "Binary Classification"},
    "intended_uses": {"intended_uses": "Predict churn for retention offers"},
}
REVIEWED = History(last_status=CardStatus.PENDING_REVIEW, version=1)


def make_card(
    status: CardStatus = CardStatus.APPROVED,
    *,
    version: int = 1,
    content: dict[str, Any] | None = None,
    created_by: Identity | None = AUTHOR,
    last_modified_by: Identity | None = APPROVER,
) -> Card:
    return Card(
        CARD_ARN,
        "Customer-Churn-Model-Card",
        status,
        version,
        CONTENT if content is None else content,
        created_by,
        last_modified_by,
    )


def without(path: str) -> dict[str, Any]:
    content = copy.deepcopy(CONTENT)
    *parents, leaf = path.split(".")
    node = content
    for part in parents:
        node = node[part]
    del node[leaf]
    return content


def with_value(path: str, value: Any) -> dict[str, Any]:
    content = copy.deepcopy(CONTENT)
    *parents, leaf = path.split(".")
    node = content
    for part in parents:
        node = node[part]
    node[leaf] = value
    return content


# ---- configuration ---------------------------------------------------------------------------------


def test_defaults_require_the_three_issue_fields_alert_and_no_allow_list() -> None:
    assert {
        "model_overview.model_owner",
        "model_overview.problem_type",
        "intended_uses.intended_uses",
    } <= set(DEFAULT_REQUIRED_FIELDS)
    assert parse_gate_config(None, None, None) == GateConfig(DEFAULT_REQUIRED_FIELDS, (), Enforcement.ALERT)


def test_config_items_are_trimmed_and_empty_items_dropped() -> None:
    config = parse_gate_config(
        " a.b , ,c ", " arn:aws:iam::*:role/ModelApprover* ,,arn:aws:sagemaker:*:*:user-profile/d-1/jane", " revert "
    )
    assert config.required_fields == ("a.b", "c")
    assert config.approver_patterns == (
        "arn:aws:iam::*:role/ModelApprover*",
        "arn:aws:sagemaker:*:*:user-profile/d-1/jane",
    )
    assert config.enforcement is Enforcement.REVERT


def test_an_empty_required_fields_setting_requires_nothing() -> None:
    config = parse_gate_config("", "", "")
    assert config.required_fields == ()
    assert config.approver_patterns == ()
    assert config.enforcement is Enforcement.ALERT
    assert review_gate(make_card(content={}), config).passed


@pytest.mark.parametrize("path", ["model overview", "a..b", ".a", "a.", "1a.b", "a/b", "a.b[0]", "a-b"])
def test_a_required_field_that_is_not_a_dotted_path_names_the_variable(path: str) -> None:
    with pytest.raises(ConfigError, match=r"^CARDSHARE_REQUIRED_FIELDS: ") as raised:
        parse_gate_config(f"model_overview.model_owner,{path}", None, None)
    assert repr(path) in str(raised.value)


@pytest.mark.parametrize("pattern", ["ModelApprover", "*", "role/ModelApprover*", "iam::123456789012:role/X"])
def test_an_approver_that_is_not_an_arn_pattern_names_the_variable(pattern: str) -> None:
    with pytest.raises(ConfigError, match=r"^CARDSHARE_APPROVERS: ") as raised:
        parse_gate_config(None, f"arn:aws:iam::*:role/ModelApprover*,{pattern}", None)
    assert repr(pattern) in str(raised.value)


@pytest.mark.parametrize("mode", ["block", "alert,revert", "warn"])
def test_an_unknown_enforcement_names_the_variable(mode: str) -> None:
    with pytest.raises(ConfigError, match=r"^CARDSHARE_ENFORCEMENT: ") as raised:
        parse_gate_config(None, None, mode)
    assert repr(mode) in str(raised.value)
    assert "alert" in str(raised.value)
    assert "revert" in str(raised.value)


# ---- identities ----------------------------------------------------------------------------------------


def test_a_studio_user_is_identified_by_the_user_profile_not_the_shared_role() -> None:
    identity = Identity.from_user_context(
        {
            "DomainId": DOMAIN,
            "UserProfileArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/{DOMAIN}/jane",
            "UserProfileName": "jane",
            "IamIdentity": {"Arn": SHARED_ROLE, "PrincipalId": "AROAEXAMPLE:SageMaker"},
        }
    )
    assert identity == studio_user("jane")
    assert identity.principal == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:user-profile/{DOMAIN}/jane"
    # Two Studio users on one execution role are two principals.
    assert studio_user("jane").principal != studio_user("raj").principal


def test_an_iam_caller_is_identified_by_the_iam_arn() -> None:
    identity = Identity.from_user_context({"IamIdentity": {"Arn": APPROVER.iam_arn, "PrincipalId": "AROA:jane"}})
    assert identity == APPROVER
    assert identity.principal == f"arn:aws:sts::{ACCOUNT}:assumed-role/ModelApprover/jane"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        "arn:aws:iam::123456789012:user/bob",
        {"DomainId": DOMAIN, "UserProfileName": "jane"},
        {"IamIdentity": {}},
        {"IamIdentity": {"PrincipalId": "AROA:jane"}},
        {"IamIdentity": {"Arn": ""}, "UserProfileArn": ""},
        {"IamIdentity": "arn:aws:iam::123456789012:user/bob"},
        {"UserProfileArn": 42},
    ],
    ids=[
        "none",
        "empty",
        "not-a-mapping",
        "profile-name-only",
        "iam-identity-empty",
        "iam-identity-without-arn",
        "empty-strings",
        "iam-identity-not-a-mapping",
        "profile-arn-not-a-string",
    ],
)
def test_a_user_context_that_names_nobody_is_no_identity(raw: object) -> None:
    assert Identity.from_user_context(raw) is None


# ---- the review gate ------------------------------------------------------------------------------------


def test_review_passes_with_every_required_field() -> None:
    assert review_gate(make_card(CardStatus.PENDING_REVIEW), GateConfig()) == GateResult("review", True, ())


@pytest.mark.parametrize("path", DEFAULT_REQUIRED_FIELDS)
def test_review_fails_naming_each_missing_default_field(path: str) -> None:
    result = review_gate(make_card(CardStatus.PENDING_REVIEW, content=without(path)), GateConfig())
    assert result == GateResult("review", False, (f"missing required field {path}",))


@pytest.mark.parametrize("path", DEFAULT_REQUIRED_FIELDS)
@pytest.mark.parametrize("empty", ["", [], {}, None], ids=["empty-string", "empty-list", "empty-object", "null"])
def test_an_empty_value_counts_as_missing(path: str, empty: Any) -> None:
    result = review_gate(make_card(CardStatus.PENDING_REVIEW, content=with_value(path, empty)), GateConfig())
    assert not result.passed
    assert result.reasons == (f"missing required field {path}",)


@pytest.mark.parametrize("value", [0, False, ["a use"], {"k": "v"}, "x"])
def test_any_other_value_counts_as_present(value: Any) -> None:
    content = with_value("model_overview.model_owner", value)
    assert review_gate(make_card(CardStatus.PENDING_REVIEW, content=content), GateConfig()).passed


def test_review_names_every_missing_field_in_configured_order() -> None:
    result = review_gate(make_card(CardStatus.PENDING_REVIEW, content={}), GateConfig())
    assert result.reasons == tuple(f"missing required field {path}" for path in DEFAULT_REQUIRED_FIELDS)


def test_a_missing_or_scalar_parent_makes_its_children_missing() -> None:
    no_parent = {"intended_uses": CONTENT["intended_uses"]}
    scalar_parent = {"model_overview": "churn-team", "intended_uses": CONTENT["intended_uses"]}
    expected = (
        "missing required field model_overview.model_owner",
        "missing required field model_overview.problem_type",
    )
    assert review_gate(make_card(content=no_parent), GateConfig()).reasons == expected
    assert review_gate(make_card(content=scalar_parent), GateConfig()).reasons == expected


NESTED = "training_details.objective_function.function.function"


def test_custom_required_fields_replace_the_defaults() -> None:
    config = parse_gate_config(f"{NESTED},business_details.business_problem", None, None)
    content = {
        "training_details": {"objective_function": {"function": {"function": "Minimize"}}},
        "business_details": {"business_problem": "churn"},
    }
    # The default fields are not required any more; the custom ones are, however deep.
    assert review_gate(make_card(content=content), config).passed
    result = review_gate(make_card(content=CONTENT), config)
    assert result.reasons == (
        f"missing required field {NESTED}",
        "missing required field business_details.business_problem",
    )


def test_a_nested_path_through_a_list_is_missing() -> None:
    config = GateConfig(required_fields=(NESTED,))
    content = {"training_details": {"objective_function": [{"function": {"function": "Minimize"}}]}}
    assert review_gate(make_card(content=content), config).reasons == (f"missing required field {NESTED}",)


# ---- the approval gate ----------------------------------------------------------------------------------


def test_approval_from_pending_review_by_a_non_author_passes() -> None:
    assert approval_gate(make_card(), REVIEWED, GateConfig()) == GateResult("approval", True, ())


@pytest.mark.parametrize("previous", [CardStatus.DRAFT, CardStatus.ARCHIVED])
def test_approval_straight_from_another_status_is_blocked_naming_it(previous: CardStatus) -> None:
    result = approval_gate(make_card(), History(last_status=previous, version=1), GateConfig())
    assert not result.passed
    assert result.reasons == (f"approved from {previous.value}; approval must follow PendingReview",)


def test_approval_from_an_unknown_status_fails_closed() -> None:
    result = approval_gate(make_card(), History(), GateConfig())
    assert not result.passed
    assert result.reasons == ("approved from an unknown status; approval must follow PendingReview",)


def test_a_repeat_event_for_an_approved_card_looks_past_its_own_status() -> None:
    # The ledger last saw the card Approved already; what counts is the status before that.
    came_from_review = History(previous_status=CardStatus.PENDING_REVIEW, last_status=CardStatus.APPROVED, version=1)
    came_from_draft = History(previous_status=CardStatus.DRAFT, last_status=CardStatus.APPROVED, version=1)
    assert approval_gate(make_card(), came_from_review, GateConfig()).passed
    assert "approved from Draft" in approval_gate(make_card(), came_from_draft, GateConfig()).reasons[0]


def test_approval_with_an_unavailable_ledger_fails_closed() -> None:
    history = History(last_status=CardStatus.PENDING_REVIEW, version=1, unavailable=True)
    result = approval_gate(make_card(), history, GateConfig())
    assert not result.passed
    assert any("ledger unavailable" in reason and "failing closed" in reason for reason in result.reasons)


def test_the_creator_approving_version_1_is_a_separation_of_duties_violation() -> None:
    result = approval_gate(make_card(created_by=AUTHOR, last_modified_by=AUTHOR), REVIEWED, GateConfig())
    assert not result.passed
    assert result.reasons == (f"separation of duties: approver {AUTHOR.principal} also authored version 1",)


def test_the_creator_does_not_count_as_author_of_a_later_version() -> None:
    card = make_card(version=4, created_by=AUTHOR, last_modified_by=AUTHOR)
    assert approval_gate(card, History(last_status=CardStatus.PENDING_REVIEW, version=4), GateConfig()).passed


def test_a_ledger_recorded_author_of_the_current_version_may_not_approve_it() -> None:
    editor = role_session("DataScientist", "bob")
    history = History(last_status=CardStatus.PENDING_REVIEW, version=3, version_authors=frozenset({editor.principal}))
    result = approval_gate(make_card(version=3, last_modified_by=editor), history, GateConfig())
    assert not result.passed
    assert result.reasons == (f"separation of duties: approver {editor.principal} also authored version 3",)
    # Anyone else may.
    assert approval_gate(make_card(version=3, last_modified_by=APPROVER), history, GateConfig()).passed


def test_authors_of_an_older_version_do_not_count() -> None:
    editor = role_session("DataScientist", "bob")
    history = History(last_status=CardStatus.PENDING_REVIEW, version=2, version_authors=frozenset({editor.principal}))
    assert approval_gate(make_card(version=3, last_modified_by=editor), history, GateConfig()).passed


def test_history_authors_of_combines_recorded_authors_and_the_creator_of_version_1() -> None:
    history = History(version=1, version_authors=frozenset({"arn:x"}))
    assert history.authors_of(make_card(version=1)) == {"arn:x", AUTHOR.principal}
    assert history.authors_of(make_card(version=2)) == frozenset()
    assert history.authors_of(make_card(version=1, created_by=None)) == {"arn:x"}


def test_an_approver_not_on_the_allow_list_is_blocked() -> None:
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/ModelApprover*",))
    outsider = role_session("DataScientist", "carol")
    result = approval_gate(make_card(last_modified_by=outsider), REVIEWED, config)
    assert not result.passed
    assert result.reasons == (f"approver {outsider.principal} is not on the approver allow-list",)


@pytest.mark.parametrize(
    "approver",
    [
        role_session("ModelApprover", "jane"),
        role_session("ModelApproverEU", "jane@example.com"),
        role_session("ModelApprover", "jane", account="999999999999"),
        Identity(iam_arn=f"arn:aws:iam::{ACCOUNT}:role/ModelApprover"),
    ],
    ids=["session", "role-prefix", "other-account", "role-arn"],
)
def test_an_assumed_role_session_matches_an_iam_role_pattern(approver: Identity) -> None:
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/ModelApprover*",))
    assert approval_gate(make_card(last_modified_by=approver), REVIEWED, config).passed


@pytest.mark.parametrize(
    "approver",
    [
        role_session("DataScientist", "ModelApprover"),  # the session name is not the role
        role_session("ModelApprove", "jane"),
        Identity(iam_arn=f"arn:aws:iam::{ACCOUNT}:user/ModelApprover"),
        Identity(iam_arn=f"arn:aws:sts::{ACCOUNT}:federated-user/ModelApprover"),
    ],
    ids=["session-name", "shorter-role", "iam-user", "federated-user"],
)
def test_only_the_role_of_a_session_matches_a_role_pattern(approver: Identity) -> None:
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/ModelApprover*",))
    assert not approval_gate(make_card(last_modified_by=approver), REVIEWED, config).passed


def test_a_pattern_pinned_to_an_account_matches_that_account_only() -> None:
    config = GateConfig(approver_patterns=(f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",))
    assert approval_gate(make_card(last_modified_by=role_session("ModelApprover", "jane")), REVIEWED, config).passed
    other = role_session("ModelApprover", "jane", account="999999999999")
    assert not approval_gate(make_card(last_modified_by=other), REVIEWED, config).passed


def test_a_studio_user_profile_arn_on_the_allow_list_may_approve() -> None:
    jane, raj = studio_user("jane"), studio_user("raj")
    config = GateConfig(approver_patterns=(str(jane.user_profile_arn),))
    assert approval_gate(make_card(last_modified_by=jane), REVIEWED, config).passed
    result = approval_gate(make_card(last_modified_by=raj), REVIEWED, config)
    assert result.reasons == (f"approver {raj.user_profile_arn} is not on the approver allow-list",)


def test_a_studio_user_is_not_allowed_by_the_domains_shared_execution_role() -> None:
    # Allowing the shared role would allow every user of the domain: Studio users are listed by profile.
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/AmazonSageMaker-ExecutionRole-*",))
    assert not approval_gate(make_card(last_modified_by=studio_user("jane")), REVIEWED, config).passed


def test_two_studio_users_on_one_role_are_not_each_others_authors() -> None:
    jane, raj = studio_user("jane"), studio_user("raj")
    assert approval_gate(make_card(created_by=jane, last_modified_by=raj), REVIEWED, GateConfig()).passed
    result = approval_gate(make_card(created_by=jane, last_modified_by=jane), REVIEWED, GateConfig())
    assert result.reasons == (f"separation of duties: approver {jane.user_profile_arn} also authored version 1",)


@pytest.mark.parametrize(
    "raw",
    [None, {}, {"DomainId": DOMAIN, "UserProfileName": "jane"}, {"IamIdentity": {"PrincipalId": "AROA:jane"}}],
    ids=["no-last-modified-by", "empty", "profile-name-only", "iam-without-arn"],
)
def test_an_unknown_approver_fails_closed(raw: object) -> None:
    approver = Identity.from_user_context(raw)
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/ModelApprover*",))
    result = approval_gate(make_card(last_modified_by=approver), REVIEWED, config)
    assert not result.passed
    assert result.reasons == (
        "approver unknown: LastModifiedBy has no UserProfileArn or IamIdentity.Arn (failing closed)",
    )


def test_every_approval_violation_is_reported_at_once() -> None:
    config = GateConfig(approver_patterns=("arn:aws:iam::*:role/ModelApprover*",))
    result = approval_gate(make_card(last_modified_by=AUTHOR), History(last_status=CardStatus.DRAFT), config)
    assert len(result.reasons) == 3
    assert "approved from Draft" in result.reasons[0]
    assert "separation of duties" in result.reasons[1]
    assert "allow-list" in result.reasons[2]


# ---- evaluate --------------------------------------------------------------------------------------------


def test_no_card_earns_nothing() -> None:
    assert evaluate(None, REVIEWED, GateConfig()) == Verdict(None, None, ())


@pytest.mark.parametrize("status", [CardStatus.DRAFT, CardStatus.ARCHIVED])
def test_draft_and_archived_pass_no_gate(status: CardStatus) -> None:
    card = make_card(status, content={}, created_by=None, last_modified_by=None)
    verdict = evaluate(card, History(), GateConfig(approver_patterns=("arn:aws:iam::*:role/X",)))
    assert verdict == Verdict(status, status, ())
    assert not verdict.blocked


def test_pending_review_with_the_required_fields_is_shared_for_review() -> None:
    verdict = evaluate(make_card(CardStatus.PENDING_REVIEW), History(), GateConfig())
    assert verdict.effective is CardStatus.PENDING_REVIEW
    assert [result.gate for result in verdict.results] == ["review"]
    assert not verdict.blocked


def test_pending_review_failing_review_is_shared_as_draft() -> None:
    card = make_card(CardStatus.PENDING_REVIEW, content=without("model_overview.problem_type"))
    verdict = evaluate(card, History(), GateConfig())
    assert verdict.status is CardStatus.PENDING_REVIEW
    assert verdict.effective is CardStatus.DRAFT
    assert verdict.blocked
    assert not verdict.approval_blocked
    assert verdict.reasons == ("missing required field model_overview.problem_type",)


def test_approved_passing_both_gates_is_shared_as_approved() -> None:
    verdict = evaluate(make_card(), REVIEWED, GateConfig())
    assert verdict.effective is CardStatus.APPROVED
    assert [(r.gate, r.passed) for r in verdict.results] == [("review", True), ("approval", True)]
    assert not verdict.blocked


def test_approved_failing_review_is_shared_as_draft_even_when_approval_passes() -> None:
    verdict = evaluate(make_card(content=without("intended_uses.intended_uses")), REVIEWED, GateConfig())
    assert verdict.effective is CardStatus.DRAFT
    assert [(r.gate, r.passed) for r in verdict.results] == [("review", False), ("approval", True)]
    assert verdict.blocked
    assert not verdict.approval_blocked


def test_approved_failing_both_gates_is_draft_and_reports_both() -> None:
    card = make_card(content={}, last_modified_by=AUTHOR)
    verdict = evaluate(card, REVIEWED, GateConfig())
    assert verdict.effective is CardStatus.DRAFT
    assert verdict.approval_blocked
    assert len(verdict.reasons) == len(DEFAULT_REQUIRED_FIELDS) + 1


@pytest.mark.parametrize(
    ("previous", "effective"),
    [
        (CardStatus.PENDING_REVIEW, CardStatus.PENDING_REVIEW),
        (CardStatus.DRAFT, CardStatus.DRAFT),
        (CardStatus.ARCHIVED, CardStatus.ARCHIVED),
    ],
)
def test_approved_failing_approval_keeps_the_sharing_it_had(previous: CardStatus, effective: CardStatus) -> None:
    self_approved = make_card(created_by=AUTHOR, last_modified_by=AUTHOR)
    verdict = evaluate(self_approved, History(last_status=previous, version=1), GateConfig())
    assert verdict.status is CardStatus.APPROVED
    assert verdict.effective is effective
    assert verdict.approval_blocked
    assert any("separation of duties" in reason for reason in verdict.reasons)


# ---- History.from_record --------------------------------------------------------------------------------


@pytest.mark.parametrize("record", [None, {}])
def test_no_record_is_an_empty_history(record: dict[str, Any] | None) -> None:
    assert History.from_record(record) == History()


def test_history_from_a_record() -> None:
    record = {
        "cardArn": CARD_ARN,
        "status": "Approved",
        "previousStatus": "PendingReview",
        "version": 3,
        "versionAuthors": ["arn:a", "arn:b"],
        "outcome": "blocked",
        "gates": [
            {"gate": "review", "passed": True, "reasons": []},
            {"gate": "approval", "passed": False, "reasons": ["r1", "r2"]},
        ],
    }
    history = History.from_record(record)
    assert history == History(
        previous_status=CardStatus.PENDING_REVIEW,
        version=3,
        version_authors=frozenset({"arn:a", "arn:b"}),
        last_status=CardStatus.APPROVED,
        last_outcome="blocked",
        last_reasons=("r1", "r2"),
    )
    assert history.previous_for(CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert history.previous_for(CardStatus.DRAFT) is CardStatus.APPROVED


def test_history_from_a_deleted_cards_record_has_no_status() -> None:
    history = History.from_record({"cardArn": CARD_ARN, "exists": False, "previousStatus": "Draft", "outcome": "no-op"})
    assert history.last_status is None
    assert history.version is None
    assert history.previous_for(CardStatus.APPROVED) is CardStatus.DRAFT


# ---- History trail: sightings ordered by event time --------------------------------------------------------

T = 1_800_000_000.0


def test_observed_keeps_sightings_in_time_order_whatever_order_they_arrive_in() -> None:
    history = (
        History()
        .observed(T + 30, CardStatus.APPROVED)
        .observed(T + 10, CardStatus.DRAFT)
        .observed(T + 20, CardStatus.PENDING_REVIEW)
    )
    assert history.trail == (
        (T + 10, CardStatus.DRAFT),
        (T + 20, CardStatus.PENDING_REVIEW),
        (T + 30, CardStatus.APPROVED),
    )


def test_observed_ignores_repeats_and_sightings_without_a_time_or_status() -> None:
    history = History().observed(T, CardStatus.DRAFT)
    assert history.observed(T, CardStatus.DRAFT) is history
    assert history.observed(None, CardStatus.APPROVED) is history
    assert history.observed(T + 1, None) is history
    assert History().observed(T, CardStatus.DRAFT) == history  # observed returns a copy, not a change


def test_observed_keeps_the_newest_sightings_only() -> None:
    history = History()
    for n in range(TRAIL_LENGTH + 5):
        history = history.observed(T + n, CardStatus.DRAFT if n % 2 else CardStatus.PENDING_REVIEW)
    assert len(history.trail) == TRAIL_LENGTH
    assert history.trail[0][0] == T + 5
    assert history.trail[-1][0] == T + TRAIL_LENGTH + 4


def test_status_before_orders_by_time_not_by_insertion() -> None:
    # The Draft event was processed last but happened first; the approval came after PendingReview.
    processed = History().observed(T + 20, CardStatus.PENDING_REVIEW).observed(T + 10, CardStatus.DRAFT)
    assert processed.status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    # Processed the other way round, the answer is the same.
    other_way = History().observed(T + 10, CardStatus.DRAFT).observed(T + 20, CardStatus.PENDING_REVIEW)
    assert other_way.status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW


def test_status_before_looks_only_before_the_given_time() -> None:
    history = History().observed(T + 10, CardStatus.PENDING_REVIEW).observed(T + 40, CardStatus.DRAFT)
    # The Draft came after the approval at T + 30: it says nothing about what the card was approved from.
    assert history.status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert history.status_before(T + 50, CardStatus.APPROVED) is CardStatus.DRAFT
    # A sighting at the very same time is not before it.
    assert history.status_before(T + 10, CardStatus.APPROVED) is None


def test_status_before_skips_sightings_of_the_same_status() -> None:
    history = (
        History()
        .observed(T + 10, CardStatus.PENDING_REVIEW)
        .observed(T + 20, CardStatus.APPROVED)
        .observed(T + 25, CardStatus.APPROVED)
    )
    assert history.status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW


def test_status_before_falls_back_to_the_ledger_order() -> None:
    recorded = History(last_status=CardStatus.PENDING_REVIEW, previous_status=CardStatus.DRAFT)
    # No time to order by, or no sighting before it: what the ledger recorded last decides.
    assert recorded.status_before(None, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert recorded.status_before(T, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert recorded.status_before(T, CardStatus.PENDING_REVIEW) is CardStatus.DRAFT
    later_only = recorded.observed(T + 10, CardStatus.DRAFT)
    assert later_only.status_before(T, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    same_only = recorded.observed(T - 10, CardStatus.APPROVED)
    assert same_only.status_before(T, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert History().status_before(T, CardStatus.APPROVED) is None
    # ... but a sighting before it wins over the ledger order.
    sighted = recorded.observed(T - 10, CardStatus.DRAFT)
    assert sighted.status_before(T, CardStatus.APPROVED) is CardStatus.DRAFT
    assert sighted.status_before(None, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW


def test_history_from_a_record_reads_its_trail() -> None:
    # As decide() writes it: in time order, JSON numbers (DynamoDB gives whole ones back as int).
    record = {"cardArn": CARD_ARN, "status": "Approved", "trail": [[int(T) + 10, "Draft"], [T + 20.5, "PendingReview"]]}
    history = History.from_record(record)
    assert history.trail == ((T + 10, CardStatus.DRAFT), (T + 20.5, CardStatus.PENDING_REVIEW))
    assert all(isinstance(when, float) for when, _ in history.trail)
    assert history.status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
    assert history.status_before(T + 15, CardStatus.APPROVED) is CardStatus.DRAFT


def test_a_stored_trail_out_of_time_order_is_still_read_by_time() -> None:
    record = {"cardArn": CARD_ARN, "status": "Approved", "trail": [[T + 20, "PendingReview"], [T + 10, "Draft"]]}
    assert History.from_record(record).status_before(T + 30, CardStatus.APPROVED) is CardStatus.PENDING_REVIEW
