"""The cloud suite's pure helpers (tests/cloud/cloud_support.py), with documents shaped like the real APIs'."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cloud_support import (
    CONTENT_EVENTS_SEEN,
    WaitTimeout,
    card_content,
    consumer_fits,
    content_edit_message,
    current_shares,
    edited,
    expected_access,
    expected_shares,
    missing_variables,
    names_card,
    new_executions,
    permission_problems,
    poll,
    read_config,
    selects_cloud,
    settle_timeout,
    skip_reason,
    unique_card_name,
)
from readme_ladder import LADDER, OWNER, SHARES, STAGES

from cardshare.gate_config import DEFAULT_REQUIRED_FIELDS
from cardshare.settings import load_settings

CARD = f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/cardshare-cloud-test-abc123"
PERMISSION = f"arn:aws:ram:us-east-1:{OWNER}:permission/cardshare-model-card-read-only"
CONFIGURED = {
    "AWS_SAM_STACK_NAME": "cardshare",
    "CARDSHARE_DEV_PROFILE": "dev",
    "CARDSHARE_TEST_PROFILE": "test",
    "CARDSHARE_PROD_PROFILE": "prod",
}


# ---- configuration ---------------------------------------------------------------------------------


def test_the_suite_runs_only_when_selected_and_configured() -> None:
    assert skip_reason(CONFIGURED, selected=True) is None
    unselected = skip_reason(CONFIGURED, selected=False)
    assert unselected is not None
    assert "make test-cloud" in unselected


@pytest.mark.parametrize("variable", sorted(CONFIGURED))
def test_the_skip_reason_names_the_missing_variable(variable: str) -> None:
    environ = {key: value for key, value in CONFIGURED.items() if key != variable}
    assert missing_variables(environ) == [variable]
    for selected in (True, False):
        reason = skip_reason(environ, selected)
        assert reason is not None
        assert variable in reason
        assert all(other not in reason for other in CONFIGURED if other != variable)


def test_an_empty_variable_counts_as_missing() -> None:
    assert missing_variables({**CONFIGURED, "CARDSHARE_PROD_PROFILE": ""}) == ["CARDSHARE_PROD_PROFILE"]


def test_the_approver_and_the_model_card_profile_are_optional() -> None:
    plain = read_config(CONFIGURED)
    assert (plain.approver_profile, plain.model_card_profile) == (None, None)
    assert plain.consumer_profiles == {"dev": "dev", "test": "test", "prod": "prod"}


def test_another_ladder_names_a_profile_variable_per_stage() -> None:
    four = {**CONFIGURED, "CARDSHARE_CLOUD_STAGES": "dev,test,staging,prod"}
    assert missing_variables(four) == ["CARDSHARE_STAGING_PROFILE"]
    config = read_config({**four, "CARDSHARE_STAGING_PROFILE": "staging-engineer"})
    assert config.consumer_profiles["staging"] == "staging-engineer"
    assert list(config.consumer_profiles) == ["dev", "test", "staging", "prod"]
    full = read_config({**CONFIGURED, "CARDSHARE_APPROVER_PROFILE": "approver", "AWS_PROFILE": "owner"})
    assert (full.approver_profile, full.model_card_profile) == ("approver", "owner")


@pytest.mark.parametrize(
    ("markexpr", "selected"),
    [("", False), ("cloud", True), ("not cloud", False), ("cloud or sam", True), ("not sam", False)],
)
def test_only_a_marker_expression_that_asks_for_cloud_selects_the_suite(markexpr: str, selected: bool) -> None:
    assert selects_cloud(markexpr) is selected


def test_card_names_are_unique_and_valid_sagemaker_names() -> None:
    names = {unique_card_name() for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert name.startswith("cardshare-cloud-test-")
        assert len(name) <= 63
        assert name.replace("-", "").isalnum()


# ---- the card and the ladder -----------------------------------------------------------------------


def test_card_content_fills_every_required_field() -> None:
    required = (*DEFAULT_REQUIRED_FIELDS, "training_details.objective_function.notes")
    content = json.loads(card_content(required))
    for dotted in required:
        node = content
        for part in dotted.split("."):
            node = node[part]
        assert isinstance(node, str), dotted
        assert node.strip(), dotted
    # The fields the e2e card has keep their schema values (risk_rating is an enum).
    assert content["intended_uses"]["risk_rating"] == "Low"


def test_an_edit_changes_only_the_description() -> None:
    before = json.loads(card_content(DEFAULT_REQUIRED_FIELDS))
    after = json.loads(edited(json.dumps(before), "Edited from dev."))
    assert after["model_overview"].pop("model_description") == "Edited from dev."
    before["model_overview"].pop("model_description")
    assert after == before
    assert json.loads(edited("{}", "x")) == {"model_overview": {"model_description": "x"}}


@pytest.mark.parametrize(
    ("status", "shares", "access"),
    [
        ("Draft", {"dev"}, {"dev": "read-write", "test": "none", "prod": "none"}),
        ("PendingReview", {"dev", "test"}, {"dev": "read-write", "test": "read-write", "prod": "none"}),
        ("Approved", {"dev", "test", "prod"}, {"dev": "read-write", "test": "read-write", "prod": "read-only"}),
        ("Archived", {"prod"}, {"dev": "none", "test": "none", "prod": "read-only"}),
        (None, set(), {"dev": "none", "test": "none", "prod": "none"}),
    ],
)
def test_expectations_follow_the_stage_ladder(status: str | None, shares: set[str], access: dict[str, str]) -> None:
    assert expected_shares(LADDER, status, CARD) == {SHARES[stage]: "ASSOCIATED" for stage in shares}
    assert expected_access(LADDER, status) == access


def association(stage: str, status: str, updated: float = 1.0) -> dict[str, object]:
    """A GetResourceShareAssociations row (boto3 returns datetimes)."""
    return {
        "resourceShareArn": SHARES[stage],
        "resourceShareName": f"cardshare-{stage}",
        "associatedEntity": CARD,
        "associationType": "RESOURCE",
        "status": status,
        "lastUpdatedTime": datetime.fromtimestamp(updated, UTC),
    }


def test_current_shares_leave_out_disassociated_and_keep_the_newest_row() -> None:
    rows = [
        association("dev", "ASSOCIATED"),
        association("test", "DISASSOCIATED"),
        association("prod", "ASSOCIATED", updated=1.0),
        association("prod", "DISASSOCIATED", updated=2.0),
    ]
    assert current_shares(rows) == {SHARES["dev"]: "ASSOCIATED"}
    assert current_shares([association("test", "ASSOCIATING")]) == {SHARES["test"]: "ASSOCIATING"}
    # ASSOCIATING is not yet what the ladder wants.
    assert current_shares([association("test", "ASSOCIATING")]) != expected_shares(LADDER, "PendingReview", CARD)


def test_settle_timeout_covers_the_evidence_wait_the_quiet_period_and_rams_polls() -> None:
    env = {"CARDSHARE_STAGES": STAGES, "CARDSHARE_ACCOUNT_ID": OWNER, "AWS_REGION": "us-east-1"}
    env |= {"CARDSHARE_LEDGER_TABLE": "ledger", "CARDSHARE_EVIDENCE_WAIT_SECONDS": "120"}
    env |= {"CARDSHARE_QUIET_SECONDS": "2", "CARDSHARE_POLL_SECONDS": "5", "CARDSHARE_MAX_POLLS": "24"}
    assert settle_timeout(load_settings(env), margin=60) == 120 + 2 + 5 * 24 + 60
    shorter = load_settings({**env, "CARDSHARE_EVIDENCE_WAIT_SECONDS": "8"})
    assert settle_timeout(shorter, margin=0) == 8 + 2 + 120


# ---- polling ---------------------------------------------------------------------------------------


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_returns_the_first_value_that_is_done() -> None:
    clock, values = FakeClock(), iter([{}, {"a": "ASSOCIATING"}, {"a": "ASSOCIATED"}])
    result = poll(
        lambda: next(values),
        lambda v: v == {"a": "ASSOCIATED"},
        timeout=60,
        interval=5,
        what="x",
        clock=clock,
        sleep=clock.sleep,
    )
    assert result == {"a": "ASSOCIATED"}
    assert clock.sleeps == [5, 5]


def test_poll_times_out_with_the_last_value_and_probes_once_more_at_the_deadline() -> None:
    clock, calls = FakeClock(), []

    def probe() -> int:
        calls.append(clock.now)
        return len(calls)

    with pytest.raises(WaitTimeout) as timed_out:
        poll(probe, lambda _: False, timeout=12, interval=5, what="card shared", clock=clock, sleep=clock.sleep)
    assert calls == [0, 5, 10, 12]
    assert "card shared" in str(timed_out.value)
    assert "last seen 4" in str(timed_out.value)


# ---- executions ------------------------------------------------------------------------------------


def event(resources: list[str], name: str | None = None) -> str:
    detail = {"ModelCardName": name} if name is not None else {}
    return json.dumps({"detail-type": "SageMaker Model Card State Change", "resources": resources, "detail": detail})


def test_an_execution_names_the_card_by_its_arn_or_its_name_in_any_case() -> None:
    assert names_card(event([CARD]), CARD)
    assert names_card(event([CARD.upper().replace("ARN:AWS", "arn:aws")]), CARD)
    assert names_card(event([], "Cardshare-Cloud-Test-ABC123"), CARD)
    assert not names_card(event([CARD + "0"], "cardshare-cloud-test-abc1230"), CARD)
    assert not names_card("not json", CARD)
    assert not names_card("[]", CARD)


def test_new_executions_are_the_unseen_ones_oldest_first() -> None:
    listed = [
        {"executionArn": "arn:3", "startDate": datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)},
        {"executionArn": "arn:1", "startDate": datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)},
        {"executionArn": "arn:2", "startDate": datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)},
    ]
    assert new_executions(listed, {"arn:1"}) == ["arn:2", "arn:3"]
    assert new_executions(listed, {"arn:1", "arn:2", "arn:3"}) == []


def test_the_content_edit_verdict_names_the_setting_to_use() -> None:
    assert content_edit_message(True, 120) == CONTENT_EVENTS_SEEN
    assert "ContentEditEvents=emitted" in CONTENT_EVENTS_SEEN
    missing = content_edit_message(False, 120)
    assert "ContentEditEvents=missing" in missing
    assert "120s" in missing


# ---- consumers and the prod permission -------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "outcome", "writes", "fits"),
    [
        ("read-write", ("ok", "ok"), True, True),
        ("read-write", ("ok", "AccessDeniedException"), True, False),
        ("read-write", ("ok", "skipped"), False, True),
        ("read-only", ("ok", "AccessDeniedException"), True, True),
        ("read-only", ("ok", "ok"), False, False),
        ("read-only", ("AccessDeniedException", "skipped"), True, False),
        ("none", ("AccessDeniedException", "skipped"), True, True),
        ("none", ("ResourceNotFound", "skipped"), True, True),
        ("none", ("ok", "AccessDeniedException"), True, False),
        ("none", ("ThrottlingException", "skipped"), True, False),
    ],
)
def test_a_consumer_fits_its_access(access: str, outcome: tuple[str, str], writes: bool, fits: bool) -> None:
    assert consumer_fits(access, outcome, writes) is fits


def summary(arn: str = PERMISSION, **fields: object) -> dict[str, object]:
    """A ListResourceSharePermissions row."""
    return {
        "arn": arn,
        "version": "1",
        "defaultVersion": True,
        "resourceType": "sagemaker:ModelCard",
        "status": "ATTACHABLE",
        "permissionType": "CUSTOMER_MANAGED",
        **fields,
    }


def test_the_stacks_permission_attached_and_read_only_has_no_problems() -> None:
    assert permission_problems([summary()], PERMISSION, created_by_stack=True, grants_update=False) == []


def test_permission_problems_name_what_is_wrong() -> None:
    [absent] = permission_problems([summary("arn:other")], PERMISSION, created_by_stack=True, grants_update=False)
    assert PERMISSION in absent
    assert "arn:other" in absent
    managed = summary(permissionType="AWS_MANAGED")
    assert permission_problems([managed], PERMISSION, created_by_stack=True, grants_update=False) == [
        "permissionType is 'AWS_MANAGED', not CUSTOMER_MANAGED"
    ]
    # A permission passed in with ReadOnlyPermissionArn may be AWS managed.
    assert permission_problems([managed], PERMISSION, created_by_stack=False, grants_update=False) == []
    [deleted] = permission_problems([summary(status="DELETED")], PERMISSION, created_by_stack=True, grants_update=False)
    assert "DELETED" in deleted
    [writable] = permission_problems([summary()], PERMISSION, created_by_stack=True, grants_update=True)
    assert "UpdateModelCard" in writable


def test_the_readme_table_names_exactly_the_cloud_tests() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Testing against real accounts", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(test_\w+)` \|", section, re.MULTILINE))
    module = (root / "tests" / "cloud" / "test_cloud.py").read_text(encoding="utf-8")
    assert documented == set(re.findall(r"^def (test_\w+)\(", module, re.MULTILINE))
    assert len(documented) == 4
