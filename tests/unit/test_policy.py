"""The stage ladder: validation names the bad field; the template's default ladder grants what the issue says."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from template_loader import default_stages

from cardshare.policy import Access, ConfigError, StageLadder, build_ladder, ladder_from_json
from cardshare.status import CardStatus

OWNER = "123456789012"
DEV, TEST, PROD = "111111111111", "222222222222", "333333333333"
ORG_ARN = "arn:aws:organizations::999999999999:organization/o-abcdefghij"
OU_ARN = "arn:aws:organizations::999999999999:ou/o-abcdefghij/ou-ab12-cdefgh34"
SPARE = "arn:aws:ram:us-east-1:123456789012:resource-share/spare-0000-1111-2222"


def stages(**principals: str) -> list[dict[str, Any]]:
    """The template's default ladder (from its parameter defaults) with the given principals per stage."""
    return default_stages(OWNER, principals={"dev": DEV, "test": TEST, "prod": PROD, **principals})


def with_change(index: int, **fields: Any) -> list[dict[str, Any]]:
    raw = stages()
    raw[index].update(fields)
    return raw


def without(index: int, key: str) -> list[dict[str, Any]]:
    raw = stages()
    del raw[index][key]
    return raw


def default_ladder() -> StageLadder:
    return ladder_from_json(json.dumps(stages()), OWNER)


# ---- invalid configurations: each one names the field ------------------------------------------

BAD_CONFIGURATIONS = [
    pytest.param(with_change(0, principals="11111111111"), "stages[0] (dev).principals", id="account-11-digits"),
    pytest.param(with_change(0, principals="1111111111111"), "stages[0] (dev).principals", id="account-13-digits"),
    pytest.param(with_change(1, principals="22222222222x"), "stages[1] (test).principals", id="account-not-digits"),
    pytest.param(
        with_change(2, principals=f"{PROD},44444444444"), "stages[2] (prod).principals", id="second-account-bad"
    ),
    pytest.param(with_change(0, principals=[DEV, 111111111112]), "stages[0] (dev).principals", id="principal-int"),
    pytest.param(with_change(0, principals=42), "stages[0] (dev).principals", id="principals-not-a-list"),
    pytest.param(
        with_change(2, principals="arn:aws:organizations::999999999999:organization/oops"),
        "stages[2] (prod).principals",
        id="malformed-org-arn",
    ),
    pytest.param(with_change(0, principals=OWNER), "stages[0] (dev).principals", id="owner-account-as-principal"),
    pytest.param(
        with_change(2, principals=f"{PROD}, {OWNER}"), "stages[2] (prod).principals", id="owner-account-among-others"
    ),
    pytest.param(with_change(2, principals=DEV), "stages (prod).principals", id="account-read-write-and-read-only"),
    pytest.param(
        stages(dev=OU_ARN, prod=OU_ARN),
        "stages (prod).principals",
        id="ou-read-write-and-read-only",
    ),
    pytest.param(with_change(1, statuses="PendingReview,Published"), "stages[1] (test).statuses", id="unknown-status"),
    pytest.param(with_change(0, statuses="draft"), "stages[0] (dev).statuses", id="status-wrong-case"),
    pytest.param(with_change(0, statuses=[1]), "stages[0] (dev).statuses", id="status-not-a-string"),
    pytest.param(with_change(0, access="write"), "stages[0] (dev).access", id="unknown-access"),
    pytest.param(with_change(2, access="Read-Only"), "stages[2] (prod).access", id="access-wrong-case"),
    pytest.param(without(1, "access"), "stages[1] (test).access", id="missing-access"),
    pytest.param(with_change(1, name="dev"), "stages (dev).name", id="duplicate-stage-name"),
    pytest.param(with_change(1, name="Test"), "stages[1].name", id="stage-name-upper-case"),
    pytest.param(without(0, "name"), "stages[0].name", id="missing-stage-name"),
    pytest.param(
        with_change(1, shareArns=stages()[0]["shareArns"]), "stages (test).shareArns", id="duplicate-share-arn"
    ),
    pytest.param(
        with_change(2, shareArns=[SPARE, stages()[0]["shareArns"][0]]),
        "stages (prod).shareArns",
        id="share-arn-of-another-stage-among-others",
    ),
    pytest.param(with_change(0, shareArns=[SPARE, SPARE]), "stages (dev).shareArns", id="share-arn-twice-in-a-stage"),
    pytest.param(without(2, "shareArns"), "stages[2] (prod).shareArns", id="missing-share-arns"),
    pytest.param(with_change(2, shareArns=[]), "stages[2] (prod).shareArns", id="empty-share-arns"),
    pytest.param(with_change(2, shareArns=None), "stages[2] (prod).shareArns", id="null-share-arns"),
    pytest.param(with_change(2, shareArns=[""]), "stages[2] (prod).shareArns[0]", id="empty-share-arn"),
    pytest.param(with_change(2, shareArns=[SPARE, None]), "stages[2] (prod).shareArns[1]", id="null-share-arn"),
    pytest.param(with_change(1, shareArns=SPARE), "stages[1] (test).shareArns", id="share-arns-a-string"),
    pytest.param(with_change(1, shareArns={"arn": SPARE}), "stages[1] (test).shareArns", id="share-arns-an-object"),
    pytest.param(
        with_change(0, shareArn=SPARE, shareArns=None), "stages[0] (dev).shareArns", id="old-shareArn-field-only"
    ),
    pytest.param(
        with_change(0, shareArns=["arn:aws:sns:us-east-1:123456789012:resource-share/abc"]),
        "stages[0] (dev).shareArns[0]",
        id="share-arn-of-another-service",
    ),
    pytest.param(
        with_change(0, shareArns=[SPARE, "arn:aws:ram:us-east-1:123456789012:permission/abc"]),
        "stages[0] (dev).shareArns[1]",
        id="ram-arn-not-a-share",
    ),
    pytest.param(with_change(0, shareArns=["dev-share"]), "stages[0] (dev).shareArns[0]", id="not-an-arn"),
    pytest.param([*stages()[:2], "prod"], "stages[2]", id="stage-not-an-object"),
]


@pytest.mark.parametrize(("raw", "field"), BAD_CONFIGURATIONS)
def test_bad_configuration_names_the_field(raw: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(field)}: "):
        build_ladder(raw, OWNER)


@pytest.mark.parametrize(("raw", "field"), BAD_CONFIGURATIONS)
def test_bad_configuration_as_json_names_the_field(raw: list[dict[str, Any]], field: str) -> None:
    with pytest.raises(ConfigError, match=rf"^{re.escape(field)}: "):
        ladder_from_json(json.dumps(raw), OWNER)


def test_owner_account_as_principal_says_why() -> None:
    with pytest.raises(ConfigError, match="model-card account itself"):
        build_ladder(with_change(1, principals=OWNER), OWNER)


def test_account_with_two_access_levels_names_both_stages() -> None:
    with pytest.raises(ConfigError) as raised:
        build_ladder(with_change(2, principals=f"{PROD},{TEST}"), OWNER)
    message = str(raised.value)
    assert TEST in message
    assert "'test'" in message
    assert "read-write" in message
    assert "read-only" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("", "stages: not valid JSON", id="empty-text"),
        pytest.param("[{", "stages: not valid JSON", id="truncated"),
        pytest.param("{'name': 'dev'}", "stages: not valid JSON", id="python-not-json"),
        pytest.param("[]", "stages: expected a non-empty list", id="empty-list"),
        pytest.param("{}", "stages: expected a non-empty list", id="object"),
        pytest.param(json.dumps(stages()[0]), "stages: expected a non-empty list", id="one-stage-not-in-a-list"),
        pytest.param('"dev"', "stages: expected a non-empty list", id="string"),
        pytest.param("3", "stages: expected a non-empty list", id="number"),
        pytest.param("null", "stages: expected a non-empty list", id="null"),
    ],
)
def test_stages_document_must_be_a_non_empty_json_list(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        ladder_from_json(text, OWNER)


@pytest.mark.parametrize("raw", [[], (), "dev", b"dev", {"name": "dev"}, None])
def test_build_ladder_rejects_non_lists(raw: Any) -> None:
    with pytest.raises(ConfigError, match=r"^stages: "):
        build_ladder(raw, OWNER)


@pytest.mark.parametrize("owner", ["", "12345678901", "arn:aws:iam::123456789012:root"])
def test_owner_account_must_be_an_account_id(owner: str) -> None:
    with pytest.raises(ConfigError, match=r"^owner account: "):
        build_ladder(stages(), owner)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# ---- valid configurations ------------------------------------------------------------------------


def test_default_ladder_from_template_defaults() -> None:
    ladder = default_ladder()
    assert [stage.name for stage in ladder.stages] == ["dev", "test", "prod"]
    assert [stage.access for stage in ladder.stages] == [Access.READ_WRITE, Access.READ_WRITE, Access.READ_ONLY]
    assert [stage.principals for stage in ladder.stages] == [(DEV,), (TEST,), (PROD,)]
    assert ladder.share_arns == tuple(arn for stage in stages() for arn in stage["shareArns"])
    assert all(len(stage.share_arns) == 1 for stage in ladder.stages)


# The issue's table: which stage a card in each status is shared with.
ISSUE_TABLE = {
    CardStatus.DRAFT: ("dev",),
    CardStatus.PENDING_REVIEW: ("dev", "test"),
    CardStatus.APPROVED: ("dev", "test", "prod"),
    CardStatus.ARCHIVED: ("prod",),
    None: (),
}


@pytest.mark.parametrize("status", list(ISSUE_TABLE))
def test_stages_for_each_status_of_the_default_ladder(status: CardStatus | None) -> None:
    assert tuple(stage.name for stage in default_ladder().stages_for(status)) == ISSUE_TABLE[status]


def test_default_prod_is_read_only_and_granted_by_approved_and_archived() -> None:
    prod = default_ladder().stage_for_share(stages()[2]["shareArns"][0])
    assert prod.name == "prod"
    assert prod.access is Access.READ_ONLY
    assert prod.statuses == {CardStatus.APPROVED, CardStatus.ARCHIVED}


def test_stage_for_share_outside_the_ladder_raises_key_error() -> None:
    with pytest.raises(KeyError):
        default_ladder().stage_for_share("arn:aws:ram:us-east-1:123456789012:resource-share/someone-elses")


def test_organization_and_ou_arns_are_accepted() -> None:
    ladder = build_ladder(stages(dev=OU_ARN, prod=f"{ORG_ARN},{PROD}"), OWNER)
    assert ladder.stages[0].principals == (OU_ARN,)
    assert ladder.stages[2].principals == (ORG_ARN, PROD)


@pytest.mark.parametrize("empty", ["", " ", ",", [], [""]])
def test_empty_principals_are_accepted(empty: Any) -> None:
    ladder = build_ladder(stages(test=empty), OWNER)
    assert ladder.stages[1].principals == ()


def test_missing_principals_and_statuses_mean_none() -> None:
    raw = stages()
    del raw[1]["principals"]
    del raw[1]["statuses"]
    ladder = build_ladder(raw, OWNER)
    assert ladder.stages[1].principals == ()
    assert ladder.stages[1].statuses == frozenset()
    assert all(stage.name != "test" for status in CardStatus for stage in ladder.stages_for(status))


def test_same_account_in_two_read_write_stages_is_accepted() -> None:
    ladder = build_ladder(stages(dev=DEV, test=f"{DEV},{TEST}"), OWNER)
    assert ladder.stages[0].principals == (DEV,)
    assert ladder.stages[1].principals == (DEV, TEST)


def test_same_account_in_the_same_stage_twice_is_harmless() -> None:
    ladder = build_ladder(stages(prod=f"{PROD},{PROD}"), OWNER)
    assert PROD in ladder.stages[2].principals


def test_principals_and_statuses_as_lists_with_blanks_and_spaces() -> None:
    raw = stages()
    raw[0]["principals"] = [f" {DEV} ", ""]
    raw[0]["statuses"] = ["Draft", " Approved"]
    ladder = build_ladder(raw, OWNER)
    assert ladder.stages[0].principals == (DEV,)
    assert ladder.stages[0].statuses == {CardStatus.DRAFT, CardStatus.APPROVED}


def test_ladder_preserves_stage_order_and_custom_mapping() -> None:
    raw = copy.deepcopy(stages())
    raw[2]["statuses"] = "Archived"  # prod only once archived
    ladder = build_ladder(list(reversed(raw)), OWNER)
    assert [stage.name for stage in ladder.stages] == ["prod", "test", "dev"]
    assert [stage.name for stage in ladder.stages_for(CardStatus.APPROVED)] == ["test", "dev"]
    assert [stage.name for stage in ladder.stages_for(CardStatus.ARCHIVED)] == ["prod"]


# ---- a stage spanning several shares: each card has one slot per stage ---------------------------


def share(name: str) -> str:
    return f"arn:aws:ram:us-east-1:{OWNER}:resource-share/{name}"


def spread_ladder() -> StageLadder:
    """dev over three shares, test over two, prod over one."""
    raw = stages()
    for stage, count in zip(raw, (3, 2, 1), strict=True):
        stage["shareArns"] = [share(f"{stage['name']}-{slot}") for slot in range(count)]
    return build_ladder(raw, OWNER)


def card(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/{name}"


def test_share_arns_list_every_share_of_every_stage_in_slot_order() -> None:
    ladder = spread_ladder()
    assert ladder.share_arns == (
        share("dev-0"),
        share("dev-1"),
        share("dev-2"),
        share("test-0"),
        share("test-1"),
        share("prod-0"),
    )
    assert ladder.stages[0].share_arns == (share("dev-0"), share("dev-1"), share("dev-2"))


@pytest.mark.parametrize("arn", ["dev-0", "dev-1", "dev-2", "test-1", "prod-0"])
def test_stage_for_share_finds_the_stage_of_any_of_its_shares(arn: str) -> None:
    assert spread_ladder().stage_for_share(share(arn)).name == arn.split("-")[0]


def test_share_for_is_one_of_the_stages_shares_and_a_pure_function_of_the_arn() -> None:
    dev = spread_ladder().stages[0]
    again = spread_ladder().stages[0]
    for index in range(50):
        arn = card(f"card-{index}")
        assert dev.share_for(arn) in dev.share_arns
        assert dev.share_for(arn) == dev.share_for(arn) == again.share_for(arn)


def test_share_for_is_sha256_of_the_lower_cased_arn_modulo_the_shares() -> None:
    # Pinned: the workflow and the reconciler (and any other process, any Python) must agree, so
    # the slot may not depend on Python's per-process string hash.
    import hashlib

    dev = spread_ladder().stages[0]
    arn = card("Example-Card")
    slot = int.from_bytes(hashlib.sha256(arn.lower().encode()).digest(), "big") % 3
    assert dev.share_for(arn) == dev.share_arns[slot]


def test_share_for_ignores_the_case_of_the_arn() -> None:
    dev = spread_ladder().stages[0]
    for index in range(30):
        arn = card(f"Churn-Model-{index}")
        assert dev.share_for(arn) == dev.share_for(arn.lower()) == dev.share_for(arn.upper())


def test_share_for_spreads_cards_over_every_share() -> None:
    dev = spread_ladder().stages[0]
    counts = {arn: 0 for arn in dev.share_arns}
    for index in range(3000):
        counts[dev.share_for(card(f"card-{index}"))] += 1
    # About 1000 each: no share is starved or flooded (a constant or biased slot would fail).
    assert all(800 <= count <= 1200 for count in counts.values()), counts


def test_a_stage_with_one_share_puts_every_card_in_it() -> None:
    prod = spread_ladder().stages[2]
    assert {prod.share_for(card(f"card-{index}")) for index in range(20)} == {share("prod-0")}


def test_a_share_used_twice_names_the_share_and_the_stage_that_has_it() -> None:
    raw = stages()
    raw[1]["shareArns"] = [share("test-0"), raw[0]["shareArns"][0]]
    with pytest.raises(ConfigError) as raised:
        build_ladder(raw, OWNER)
    assert raw[0]["shareArns"][0] in str(raised.value)
    assert "'dev'" in str(raised.value)
