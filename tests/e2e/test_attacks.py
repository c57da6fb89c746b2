"""Attacks on the approval rule, end to end through the embedded AWS, each next to the legitimate path.

One test per way around "four eyes on the version" (the README's threat model table names them);
each asserts what RAM associates, what the prod account can do, what the ledger recorded and who
was alerted. The people are real role sessions (optionally with a SourceIdentity) and Studio users.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from e2e_support import (
    Executions,
    assert_associations,
    assert_consumers,
    associations,
    card_arn,
    card_content,
    consumer,
    output,
    ram_tasks,
    sagemaker,
    start,
)
from governance_support import (
    last_output,
    ledger,
    outcomes,
    person,
    received,
    reconcile,
    rule_switch,
    settle,
    studio_user,
    subscribe,
)

from cardshare.policy import ConfigError
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, TEST_ACCOUNT
from cardshare_local.runtime import LocalAws, local_aws

NAME = "Attacked-Model-Card"
ARN = card_arn(NAME)
READ_ONLY_PROD = {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "read-only"}
NO_PROD = {DEV_ACCOUNT: "read-write", TEST_ACCOUNT: "read-write", PROD_ACCOUNT: "none"}


def author_to_review(system: LocalAws, author: Any, executions: Executions) -> None:
    """The author creates the card with complete content and submits it for review."""
    author.create_model_card(ModelCardName=NAME, Content=card_content(), ModelCardStatus="Draft")
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="PendingReview")
    settle(executions)
    assert_associations(system, ARN, ["dev", "test"])


def approve(cards: Any, executions: Executions, name_or_arn: str = NAME) -> dict[str, Any]:
    """Set Approved; the last execution's output once every execution has ended."""
    cards.update_model_card(ModelCardName=name_or_arn, ModelCardStatus="Approved")
    return last_output(settle(executions))


def wait_out_in_flight(system: LocalAws) -> None:
    """Let the latest change leave the reconciler's in-flight window (it leaves fresh changes alone)."""
    gates, limits = system.settings().gates, system.settings().limits
    time.sleep(
        gates.evidence_wait_seconds + limits.quiet_seconds + int(system.stack.parameters["ReconcileGraceSeconds"]) + 0.5
    )


def blocked_reasons(system: LocalAws) -> list[str]:
    """The reasons of the card's latest decision."""
    return [reason for gate in ledger(system, ARN)[-1]["gates"] for reason in gate["reasons"]]


# ---- controls: the legitimate paths --------------------------------------------------------------


def test_control_a_different_person_in_the_model_card_account_approves_and_prod_reads_only(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    result = approve(person(system, "ModelApprover", "jane"), executions)
    assert (result["outcome"], result["sharesAdded"]) == ("shared", ["prod"])
    assert_associations(system, ARN, ["dev", "test", "prod"])
    assert_consumers(system, ARN, READ_ONLY_PROD)
    approval = ledger(system, ARN)[-1]
    details = {g["gate"]: g for g in approval["gates"]}["approval"]["details"]
    assert details["approver"].endswith("assumed-role/ModelApprover/jane")
    assert details["authors"] == [f"arn:aws:sts::{MODEL_CARD_ACCOUNT}:assumed-role/DataScientist/ds-1"]
    assert received(system, alerts) == []


def test_control_card_created_directly_in_approved_stays_out_of_prod(system: LocalAws) -> None:
    executions = Executions(system)
    person(system, "ModelApprover", "jane").create_model_card(
        ModelCardName=NAME, Content=card_content(), ModelCardStatus="Approved"
    )
    settle(executions)
    assert_associations(system, ARN, ["dev"])
    assert any("separation of duties" in reason for reason in blocked_reasons(system))


def test_control_draft_to_approved_without_review_stays_out_of_prod(system: LocalAws) -> None:
    executions = Executions(system)
    person(system, "DataScientist", "ds-1").create_model_card(
        ModelCardName=NAME, Content=card_content(), ModelCardStatus="Draft"
    )
    settle(executions)
    result = approve(person(system, "ModelApprover", "jane"), executions)
    assert result["outcome"] == "blocked"
    assert_associations(system, ARN, ["dev"])
    assert any("never seen in PendingReview" in reason for reason in blocked_reasons(system))


# ---- 1, 2, 3: the author in another guise, and edits after approval -------------------------------


def test_author_approving_with_a_new_session_name_is_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "data-scientist", "ds-1"), executions)
    result = approve(person(system, "data-scientist", "ds-1-approving"), executions)
    assert result["outcome"] == "blocked"
    assert_consumers(system, ARN, NO_PROD)
    assert any("separation of duties" in reason for reason in blocked_reasons(system))


def test_self_approval_then_content_edit_is_still_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    assert approve(author, executions)["outcome"] == "blocked"
    # The edit makes version 2 in status Approved: nobody reviewed or approved version 2.
    author.update_model_card(ModelCardName=NAME, Content=card_content("edited-after-block"))
    result = last_output(settle(executions))
    assert (result["status"], result["version"]) == ("Approved", 2)
    assert_consumers(system, ARN, NO_PROD)
    assert any("stale approval" in reason for reason in blocked_reasons(system))


def test_edit_after_a_proper_approval_takes_prod_away_and_alerts_once(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    assert approve(person(system, "ModelApprover", "jane"), executions)["sharesAdded"] == ["prod"]
    author.update_model_card(ModelCardName=NAME, Content=card_content("unreviewed change"))
    fresh = settle(executions)
    assert output(fresh[-1])["sharesRemoved"] == ["prod"]
    assert_consumers(system, ARN, NO_PROD)
    [alert] = received(system, alerts)
    assert "stale approval" in json.dumps(alert["record"]["gates"])
    # The same edit event again: recorded, not alerted a second time.
    start(system, json.loads(fresh[-1]["input"]))
    settle(executions)
    assert received(system, alerts) == []
    assert outcomes(system, ARN)[-2:] == ["blocked", "no-op"]


@pytest.mark.parametrize("system", [{"ApprovalEnforcement": "revert"}], indirect=True)
def test_edit_after_approval_in_revert_mode_sends_the_card_back_to_review(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    approve(person(system, "ModelApprover", "jane"), executions)
    author.update_model_card(ModelCardName=NAME, Content=card_content("unreviewed change"))
    settle(executions)
    card = sagemaker(system).describe_model_card(ModelCardName=NAME)
    assert (card["ModelCardStatus"], card["ModelCardVersion"]) == ("PendingReview", 2)
    assert_consumers(system, ARN, NO_PROD)
    reverted = [r for r in ledger(system, ARN) if r.get("enforcement")]
    assert reverted
    assert reverted[-1]["enforcement"] == "reverted to PendingReview"


def test_lost_approval_and_edit_events_repaired_by_the_reconciler_stay_out_of_prod(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    disable, enable = rule_switch(system)
    disable()
    person(system, "ModelApprover", "jane").update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
    author.update_model_card(ModelCardName=NAME, Content=card_content("edited seconds later"))
    enable()
    wait_out_in_flight(system)
    report = reconcile(system)
    assert [d["card"] for d in report["drift"]] == [ARN]
    settle(executions)
    assert_consumers(system, ARN, NO_PROD)
    decision = ledger(system, ARN)[-1]
    assert decision["outcome"] == "blocked"
    assert decision["version"] == 2
    approval = {g["gate"]: g for g in decision["gates"]}["approval"]
    # The edit is not credited as an approval by its author.
    assert approval["details"]["approver"] is None or "DataScientist" not in approval["details"]["approver"]


# ---- 5, 6: who may approve at all -------------------------------------------------------------------


def test_a_dev_account_principal_approving_through_the_dev_share_is_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    dev_engineer = person(system, "ml-engineer", account=DEV_ACCOUNT)
    result = approve(dev_engineer, executions, ARN)
    assert result["outcome"] == "blocked"
    assert_consumers(system, ARN, NO_PROD)
    assert any("not in an approver account" in reason for reason in blocked_reasons(system))


def test_an_allow_list_with_a_wildcard_account_is_refused_at_deploy() -> None:
    with (
        pytest.raises(ConfigError, match="ApproverAllowList"),
        local_aws({"ApproverAllowList": "arn:aws:iam::*:role/ModelApprover*"}),
    ):
        pass


@pytest.mark.parametrize(
    "system", [{"ApproverAllowList": f"arn:aws:iam::{MODEL_CARD_ACCOUNT}:role/ModelApprover"}], indirect=True
)
def test_allow_list_refuses_look_alike_roles_and_other_accounts_and_admits_the_listed_role(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    assert approve(person(system, "ModelApproverEvil", "eve"), executions)["outcome"] == "blocked"
    assert any("allow-list" in reason for reason in blocked_reasons(system))
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="PendingReview")
    settle(executions)
    assert approve(person(system, "ModelApprover", "mallory", account=DEV_ACCOUNT), executions, ARN)["outcome"] == (
        "blocked"
    )
    assert_consumers(system, ARN, NO_PROD)
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="PendingReview")
    settle(executions)
    assert approve(person(system, "ModelApprover", "jane"), executions)["sharesAdded"] == ["prod"]
    assert_consumers(system, ARN, READ_ONLY_PROD)


# ---- 7: Studio ----------------------------------------------------------------------------------------


def test_studio_author_approving_through_the_execution_role_outside_studio_is_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, studio_user(system, "carol"), executions)
    assert approve(person(system, "StudioExecutionRole", "batch"), executions)["outcome"] == "blocked"
    assert_consumers(system, ARN, NO_PROD)


def test_author_through_the_execution_role_approving_in_studio_is_blocked(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "StudioExecutionRole", "batch"), executions)
    assert approve(studio_user(system, "carol"), executions)["outcome"] == "blocked"
    assert_consumers(system, ARN, NO_PROD)


def test_control_two_studio_users_on_one_execution_role_are_two_people(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, studio_user(system, "carol"), executions)
    assert approve(studio_user(system, "dave"), executions)["sharesAdded"] == ["prod"]
    assert_consumers(system, ARN, READ_ONLY_PROD)


def test_source_identities_tell_people_on_one_role_apart_and_a_shared_role_without_one_does_not(
    system: LocalAws,
) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "MLTeam", "s1", source_identity="alice"), executions)
    assert approve(person(system, "MLTeam", "s2", source_identity="alice"), executions)["outcome"] == "blocked"
    person(system, "MLTeam", "s1", source_identity="alice").update_model_card(
        ModelCardName=NAME, ModelCardStatus="PendingReview"
    )
    settle(executions)
    assert approve(person(system, "MLTeam", "s3"), executions)["outcome"] == "blocked"
    person(system, "MLTeam", "s1", source_identity="alice").update_model_card(
        ModelCardName=NAME, ModelCardStatus="PendingReview"
    )
    settle(executions)
    assert approve(person(system, "MLTeam", "s4", source_identity="bob"), executions)["sharesAdded"] == ["prod"]


# ---- 8: quick changes ---------------------------------------------------------------------------------


def test_quick_review_back_to_draft_then_approval_is_valid_and_never_flaps(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author.create_model_card(ModelCardName=NAME, Content=card_content(), ModelCardStatus="Draft")
    settle(executions)
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="PendingReview")
    person(system, "ModelApprover", "jane").update_model_card(ModelCardName=NAME, ModelCardStatus="Draft")
    person(system, "ModelApprover", "jane").update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
    fresh = settle(executions)
    assert_consumers(system, ARN, READ_ONLY_PROD)
    tasks = [task for execution in fresh for task in ram_tasks(system, execution)]
    # Executions run side by side, so two may both associate prod; none ever disassociates.
    assert "Associate" in tasks
    assert "Disassociate" not in tasks
    assert "blocked" not in outcomes(system, ARN)


# ---- 10, 11, 12: failures and archive -----------------------------------------------------------------


@pytest.mark.parametrize("system", [{"ApprovalEnforcement": "revert"}], indirect=True)
def test_unreadable_evidence_withholds_prod_without_reverting_and_is_decided_again_later(
    system: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.responses import DynamoHandler

    executions = Executions(system)
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)

    def unreadable(self: Any) -> Any:
        raise ResourceNotFoundException("Requested resource not found")

    with monkeypatch.context() as patched:
        for operation in ("update_item", "get_item", "put_item"):
            patched.setattr(DynamoHandler, operation, unreadable)
        person(system, "ModelApprover", "jane").update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
        executions.new(120)
    card = sagemaker(system).describe_model_card(ModelCardName=NAME)
    assert card["ModelCardStatus"] == "Approved"  # never reverted for an unreadable store
    assert_consumers(system, ARN, NO_PROD)
    wait_out_in_flight(system)
    reconcile(system)
    settle(executions)
    assert_consumers(system, ARN, READ_ONLY_PROD)


def test_an_oversized_event_is_rejected_recorded_and_strands_nothing(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    huge = json.loads(json.dumps(executions.last_input()))
    huge["id"] = "x" * 100_000
    start(system, huge)
    [failed] = executions.new()
    assert (failed["status"], failed["error"]) == ("FAILED", "InvalidEventError")
    record = ledger(system, ARN)[-1]
    assert (record["outcome"], record["error"], record.get("eventId")) == ("failed", "InvalidEventError", None)
    # Nothing is held: the next change of the card is handled at once.
    assert approve(person(system, "ModelApprover", "jane"), executions)["sharesAdded"] == ["prod"]


def test_a_card_never_approved_and_archived_is_shared_with_no_one(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    author = person(system, "DataScientist", "ds-1")
    author.create_model_card(ModelCardName=NAME, Content=card_content(), ModelCardStatus="Draft")
    settle(executions)
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="Archived")
    settle(executions)
    assert_consumers(system, ARN, {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", PROD_ACCOUNT: "none"})
    assert received(system, alerts) == []  # archiving a draft is no alarm


def test_control_an_approved_card_archived_keeps_prod_read_only(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    approve(person(system, "ModelApprover", "jane"), executions)
    author.update_model_card(ModelCardName=NAME, ModelCardStatus="Archived")
    settle(executions)
    assert_consumers(system, ARN, {DEV_ACCOUNT: "none", TEST_ACCOUNT: "none", PROD_ACCOUNT: "read-only"})


# ---- prod's permission ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "system",
    [{"ReadOnlyPermissionArn": "arn:aws:ram::aws:permission/AWSRAMPermissionSageMakerModelCards"}],
    indirect=True,
)
def test_a_writable_prod_permission_is_refused_before_sharing(system: LocalAws) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    person(system, "ModelApprover", "jane").update_model_card(ModelCardName=NAME, ModelCardStatus="Approved")
    fresh = executions.new(120)
    assert (fresh[-1]["status"], fresh[-1]["error"]) == ("FAILED", "PermissionMismatchError")
    assert_associations(system, ARN, ["dev", "test"])
    assert ledger(system, ARN)[-1]["outcome"] == "failed"


# ---- found by a red-team pass ---------------------------------------------------------------------


def test_approving_twice_keeps_prod_and_raises_no_alarm(system: LocalAws) -> None:
    executions = Executions(system)
    alerts = subscribe(system, {"outcome": ["blocked"]})
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    approve(person(system, "ModelApprover", "jane"), executions)
    # A second click, or a second approver: the version stays approved.
    approve(person(system, "ModelApprover", "kim"), executions)
    assert_consumers(system, ARN, READ_ONLY_PROD)
    assert received(system, alerts) == []
    assert "blocked" not in outcomes(system, ARN)


@pytest.mark.parametrize("system", [{"QuietSeconds": "6"}], indirect=True)
def test_editing_again_and_again_after_approval_takes_prod_away_in_the_first_round(system: LocalAws) -> None:
    executions = Executions(system)
    author = person(system, "DataScientist", "ds-1")
    author_to_review(system, author, executions)
    approve(person(system, "ModelApprover", "jane"), executions)
    prod = consumer(system, PROD_ACCOUNT)
    author.update_model_card(ModelCardName=NAME, Content=card_content("edit 1"))
    edited = time.monotonic()
    lost = False
    # A round after the quiet period would come 6 s after the edit at the earliest.
    while not lost and time.monotonic() - edited < 6:
        try:
            prod.describe_model_card(ModelCardName=ARN)
            time.sleep(0.05)
        except ClientError:
            lost = True
    # Prod lost access in the execution's first round, before the card stood still for 6 s,
    # and keeps losing it while the author goes on editing.
    assert lost
    for round_ in range(2, 4):
        author.update_model_card(ModelCardName=NAME, Content=card_content(f"edit {round_}"))
        with pytest.raises(ClientError):
            prod.describe_model_card(ModelCardName=ARN)
    settle(executions)
    assert_consumers(system, ARN, NO_PROD)


def test_a_card_deleted_and_created_again_by_someone_else_is_not_approved_by_the_old_evidence(
    system: LocalAws,
) -> None:
    executions = Executions(system)
    author_to_review(system, person(system, "DataScientist", "ds-1"), executions)
    approve(person(system, "ModelApprover", "jane"), executions)
    mallory = person(system, "DataScientist", "mallory")
    mallory.delete_model_card(ModelCardName=NAME)
    mallory.create_model_card(ModelCardName=NAME, Content=card_content("mallory"), ModelCardStatus="Approved")
    settle(executions)
    assert "prod" not in associations(system, ARN)
    assert ledger(system, ARN)[-1]["outcome"] == "blocked"
