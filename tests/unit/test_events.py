"""parse_event on every sample in events/, and on variants derived from them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cardshare.events import MAX_EVENT_BYTES, CardEvent, InvalidEventError, parse_card_arn, parse_event
from cardshare.identity import Actor
from cardshare.status import CardStatus

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT, REGION = "123456789012", "us-east-1"
CARD = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD}"


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def variant(change: Callable[[dict[str, Any]], object], sample: str = "card-approved.json") -> dict[str, Any]:
    event = copy.deepcopy(load(sample))
    change(event)
    return event


def named(event: dict[str, Any], name: str) -> None:
    event["resources"] = [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{name}"]
    event["detail"]["ModelCardName"] = name


# ---- every file in events/ ---------------------------------------------------------------------

STATUS_SAMPLES = {
    "card-draft.json": CardStatus.DRAFT,
    "card-pending-review.json": CardStatus.PENDING_REVIEW,
    "card-approved.json": CardStatus.APPROVED,
    "card-archived.json": CardStatus.ARCHIVED,
}
REJECTED_SAMPLES = {
    "malformed-missing-detail.json": "detail",
    "malformed-unknown-status.json": "detail.ModelCardStatus",
    "other-model-package-state-change.json": "detail-type",
}
REFERENCE = "reference-model-card-state-change.json"


def test_every_sample_is_classified() -> None:
    on_disk = {path.name for path in EVENTS.glob("*.json")}
    assert on_disk == {*STATUS_SAMPLES, *REJECTED_SAMPLES, REFERENCE}


def test_every_sample_is_valid_json_with_the_envelope_fields() -> None:
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text(encoding="utf-8"))
        assert {"version", "id", "detail-type", "source", "account", "time", "region", "resources"} <= set(event), (
            path.name
        )


USER = Actor(user_profile="arn:aws:sagemaker:us-east-1:111122223333:user-profile/user", domain="us-east-1")


def test_reference_event_is_accepted_in_its_own_account_and_region() -> None:
    parsed = parse_event(load(REFERENCE), "111122223333", "us-east-1")
    assert parsed == CardEvent(
        event_id="aa7a9c4f-2caa-4d04-a6de-e67227ba4302",
        time="2022-11-30T00:00:00Z",
        card=parse_card_arn("arn:aws:sagemaker:us-east-1:111122223333:model-card/example-card"),
        status=CardStatus.DRAFT,
        version=2,
        # detail.LastModifiedTime "2022-12-03T00:09:44.893854735Z", nanoseconds cut to microseconds
        modified_at=datetime(2022, 12, 3, 0, 9, 44, 893854, tzinfo=UTC).timestamp(),
        modified_by=USER,
        created_by=USER,
        created_at=datetime(2022, 12, 3, 0, 9, 33, 84000, tzinfo=UTC).timestamp(),
    )
    assert parsed.card.name == "example-card"
    assert parsed.card.account == "111122223333"
    assert parsed.card.region == "us-east-1"


def test_reference_event_is_rejected_by_another_stack() -> None:
    with pytest.raises(InvalidEventError, match=r"^account: "):
        parse_event(load(REFERENCE), ACCOUNT, REGION)


@pytest.mark.parametrize(("sample", "status"), STATUS_SAMPLES.items())
def test_status_sample_parses(sample: str, status: CardStatus) -> None:
    parsed = parse_event(load(sample), ACCOUNT, REGION)
    assert parsed.status is status
    assert parsed.card.arn == CARD_ARN
    assert parsed.card.name == CARD
    assert (parsed.card.account, parsed.card.region) == (ACCOUNT, REGION)
    assert parsed.event_id == load(sample)["id"]
    assert parsed.version == load(sample)["detail"]["ModelCardVersion"]


@pytest.mark.parametrize(("sample", "field"), REJECTED_SAMPLES.items())
def test_rejected_sample_names_the_field(sample: str, field: str) -> None:
    with pytest.raises(InvalidEventError, match=rf"^{re.escape(field)}: "):
        parse_event(load(sample), ACCOUNT, REGION)


def test_unknown_status_message_lists_the_known_ones() -> None:
    with pytest.raises(InvalidEventError) as raised:
        parse_event(load("malformed-unknown-status.json"), ACCOUNT, REGION)
    assert "'Published'" in str(raised.value)
    assert all(status.value in str(raised.value) for status in CardStatus)


# ---- variants derived from the samples -----------------------------------------------------------

REJECTED_VARIANTS = [
    pytest.param(lambda e: e.update(account="999999999999"), "account", id="another-account"),
    pytest.param(lambda e: e.update(region="eu-west-1"), "region", id="another-region"),
    pytest.param(lambda e: e.update({"detail-type": "SageMaker Model Package State Change"}), "detail-type", id="dt"),
    pytest.param(lambda e: e.pop("detail-type"), "detail-type", id="detail-type-missing"),
    pytest.param(lambda e: e.update(source="aws.ram"), "source", id="another-source"),
    pytest.param(lambda e: e.update(source="custom.aws.sagemaker"), "source", id="spoofed-source"),
    pytest.param(lambda e: e.pop("source"), "source", id="source-missing"),
    pytest.param(lambda e: e.pop("id"), "id", id="id-missing"),
    pytest.param(lambda e: e.pop("account"), "account", id="account-missing"),
    pytest.param(lambda e: e.pop("region"), "region", id="region-missing"),
    pytest.param(lambda e: e.update(resources=[]), "resources", id="resources-empty"),
    pytest.param(lambda e: e.pop("resources"), "resources", id="resources-missing"),
    pytest.param(lambda e: e.update(resources=CARD_ARN), "resources", id="resources-a-string"),
    pytest.param(lambda e: e.update(resources=[CARD_ARN, CARD_ARN + "-2"]), "resources", id="resources-two-arns"),
    pytest.param(
        lambda e: e.update(resources=[f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/churn/1"]),
        "resources[0]",
        id="resources-model-package-arn",
    ),
    pytest.param(lambda e: e.update(resources=[CARD]), "resources[0]", id="resources-bare-name"),
    pytest.param(lambda e: e.update(resources=[None]), "resources[0]", id="resources-null"),
    pytest.param(
        lambda e: e.update(resources=[CARD_ARN.replace(ACCOUNT, "999999999999")]),
        "resources[0]",
        id="card-in-another-account",
    ),
    pytest.param(
        lambda e: e.update(resources=[CARD_ARN.replace(REGION, "eu-west-1")]), "resources[0]", id="card-elsewhere"
    ),
    pytest.param(lambda e: named(e, "a" * 64), "resources[0]", id="name-64-characters"),
    pytest.param(lambda e: named(e, "ab" + "-b" * 31), "resources[0]", id="name-64-characters-with-hyphens"),
    pytest.param(lambda e: named(e, "-churn"), "resources[0]", id="name-starts-with-hyphen"),
    pytest.param(lambda e: named(e, "churn_card"), "resources[0]", id="name-with-underscore"),
    pytest.param(lambda e: e["detail"].update(ModelCardName="Other-Card"), "detail.ModelCardName", id="name-mismatch"),
    pytest.param(lambda e: e["detail"].pop("ModelCardName"), "detail.ModelCardName", id="name-missing"),
    pytest.param(
        lambda e: e["detail"].update(ModelCardName=CARD_ARN), "detail.ModelCardName", id="detail-name-is-the-arn"
    ),
    pytest.param(
        lambda e: e.update(resources=[f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-card/{CARD_ARN}"]),
        "resources[0]",
        id="arn-name-is-an-arn",
    ),
    pytest.param(lambda e: e.update(detail="Approved"), "detail", id="detail-a-string"),
    pytest.param(lambda e: e.update(detail=None), "detail", id="detail-null"),
    pytest.param(lambda e: e["detail"].pop("ModelCardStatus"), "detail.ModelCardStatus", id="status-missing"),
    pytest.param(
        lambda e: e["detail"].update(ModelCardStatus="approved"), "detail.ModelCardStatus", id="status-wrong-case"
    ),
    pytest.param(lambda e: e["detail"].update(ModelCardVersion="2"), "detail.ModelCardVersion", id="version-string"),
    pytest.param(lambda e: e["detail"].update(ModelCardVersion=2.0), "detail.ModelCardVersion", id="version-float"),
    pytest.param(lambda e: e["detail"].update(ModelCardVersion=True), "detail.ModelCardVersion", id="version-bool"),
    pytest.param(lambda e: e["detail"].update(ModelCardVersion=0), "detail.ModelCardVersion", id="version-zero"),
    pytest.param(lambda e: e["detail"].update(ModelCardVersion=-1), "detail.ModelCardVersion", id="version-negative"),
]


@pytest.mark.parametrize(("change", "field"), REJECTED_VARIANTS)
def test_rejected_variant_names_the_field(change: Callable[[dict[str, Any]], object], field: str) -> None:
    event = variant(change)
    with pytest.raises(InvalidEventError, match=rf"^{re.escape(field)}: "):
        parse_event(event, ACCOUNT, REGION)


@pytest.mark.parametrize("event", [None, "event", [load("card-draft.json")], 42])
def test_not_an_object_is_rejected(event: object) -> None:
    with pytest.raises(InvalidEventError, match=r"^event: "):
        parse_event(event, ACCOUNT, REGION)


def test_card_name_of_63_characters_is_accepted() -> None:
    name = "C" + "-x" * 31  # 63 characters, hyphens included
    assert len(name) == 63
    parsed = parse_event(variant(lambda e: named(e, name)), ACCOUNT, REGION)
    assert parsed.card.name == name
    plain = "c" * 63
    assert parse_event(variant(lambda e: named(e, plain)), ACCOUNT, REGION).card.name == plain


def test_card_name_of_one_character_is_accepted() -> None:
    assert parse_event(variant(lambda e: named(e, "x")), ACCOUNT, REGION).card.name == "x"


def test_card_name_compared_without_case() -> None:
    # SageMaker may report the ARN with the name lower-cased.
    event = variant(lambda e: e.update(resources=[CARD_ARN.lower()]))
    parsed = parse_event(event, ACCOUNT, REGION)
    assert parsed.card.arn == CARD_ARN.lower()
    assert parsed.card.name == CARD.lower()


def test_missing_version_is_accepted_as_none() -> None:
    parsed = parse_event(variant(lambda e: e["detail"].pop("ModelCardVersion")), ACCOUNT, REGION)
    assert parsed.version is None
    assert parsed.status is CardStatus.APPROVED


def test_event_in_another_partition_is_accepted_when_account_and_region_match() -> None:
    def china(event: dict[str, Any]) -> None:
        event["region"] = "cn-north-1"
        event["resources"] = [f"arn:aws-cn:sagemaker:cn-north-1:{ACCOUNT}:model-card/{CARD}"]

    parsed = parse_event(variant(china), ACCOUNT, "cn-north-1")
    assert parsed.card.region == "cn-north-1"


def test_extra_fields_are_ignored() -> None:
    def extra(event: dict[str, Any]) -> None:
        event["detail"]["Unexpected"] = {"nested": True}
        event["replay-name"] = "replay-1"

    assert parse_event(variant(extra), ACCOUNT, REGION).status is CardStatus.APPROVED


def test_parse_event_does_not_modify_the_event() -> None:
    event = load("card-pending-review.json")
    before = copy.deepcopy(event)
    parse_event(event, ACCOUNT, REGION)
    assert event == before


def test_invalid_event_error_is_a_value_error() -> None:
    assert issubclass(InvalidEventError, ValueError)


# ---- who changed the card, and when it was created --------------------------------------------------

LEAD = "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-cardshare0001/lead-data-scientist"


def test_the_samples_say_who_changed_and_who_created_the_card() -> None:
    parsed = parse_event(load("card-approved.json"), ACCOUNT, REGION)
    lead = Actor(user_profile=LEAD, domain="d-cardshare0001")
    assert parsed.modified_by == parsed.created_by == lead
    assert parsed.created_at == datetime(2022, 12, 3, 0, 9, 33, 84000, tzinfo=UTC).timestamp()
    assert parsed.modified_at == datetime(2022, 12, 3, 0, 9, 44, 893854, tzinfo=UTC).timestamp()


def test_an_iam_identity_is_read_with_its_role_session_and_source_identity() -> None:
    def iam(event: dict[str, Any]) -> None:
        event["detail"]["LastModifiedBy"] = {
            "IamIdentity": {
                "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ModelApprover/jane",
                "PrincipalId": "AROAEXAMPLE:jane",
                "SourceIdentity": "jane@example.com",
            }
        }
        event["detail"]["CreatedBy"] = {"IamIdentity": {"Arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}}
        event["detail"]["CreationTime"] = "2026-11-28T08:00:00.5Z"

    parsed = parse_event(variant(iam), ACCOUNT, REGION)
    assert parsed.modified_by == Actor(
        principal=f"arn:aws:sts::{ACCOUNT}:assumed-role/ModelApprover/jane",
        role=f"arn:aws:iam::{ACCOUNT}:role/ModelApprover",
        session="jane",
        source_identity="jane@example.com",
    )
    assert parsed.modified_by.account == ACCOUNT
    assert parsed.created_by == Actor(principal=f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert parsed.created_at == datetime(2026, 11, 28, 8, 0, 0, 500000, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    "context",
    [None, {}, "arn:aws:iam::123456789012:user/bob", {"IamIdentity": "bob"}, {"IamIdentity": {"Arn": ""}}, []],
    ids=["null", "empty", "a-string", "identity-a-string", "empty-arn", "a-list"],
)
def test_a_user_context_naming_nobody_reads_as_unknown(context: object) -> None:
    def set_context(event: dict[str, Any]) -> None:
        event["detail"]["LastModifiedBy"] = context
        event["detail"]["CreatedBy"] = context

    parsed = parse_event(variant(set_context), ACCOUNT, REGION)
    assert parsed.modified_by is None
    assert parsed.created_by is None
    assert parsed.status is CardStatus.APPROVED  # the event is still acted on


def test_missing_authorship_and_creation_time_are_none() -> None:
    def strip(event: dict[str, Any]) -> None:
        for key in ("LastModifiedBy", "CreatedBy", "CreationTime"):
            event["detail"].pop(key)

    parsed = parse_event(variant(strip), ACCOUNT, REGION)
    assert (parsed.modified_by, parsed.created_by, parsed.created_at) == (None, None, None)


def test_an_unparsable_creation_time_is_none() -> None:
    parsed = parse_event(variant(lambda e: e["detail"].update(CreationTime="yesterday")), ACCOUNT, REGION)
    assert parsed.created_at is None


def test_without_a_detail_time_the_change_is_dated_by_the_event() -> None:
    parsed = parse_event(variant(lambda e: e["detail"].pop("LastModifiedTime")), ACCOUNT, REGION)
    assert parsed.modified_at == datetime(2026, 11, 28, 9, 0, tzinfo=UTC).timestamp()


# ---- oversized events ------------------------------------------------------------------------------


def test_an_event_over_16_kb_is_rejected_with_a_short_message() -> None:
    event = variant(lambda e: e["detail"].update(Padding="x" * MAX_EVENT_BYTES))
    with pytest.raises(InvalidEventError, match=r"^event: \d+ bytes, more than the 16384") as raised:
        parse_event(event, ACCOUNT, REGION)
    assert len(str(raised.value)) < 300


def test_an_event_just_under_the_limit_is_accepted() -> None:
    event = load("card-approved.json")
    room = MAX_EVENT_BYTES - len(json.dumps(event)) - len(', "Padding": ""')
    event["detail"]["Padding"] = "x" * room
    assert len(json.dumps(event)) == MAX_EVENT_BYTES
    assert parse_event(event, ACCOUNT, REGION).status is CardStatus.APPROVED


@pytest.mark.parametrize(("length", "accepted"), [(128, True), (129, False), (10_000, False)])
def test_an_id_over_128_characters_is_rejected_with_a_short_message(length: int, accepted: bool) -> None:
    event = variant(lambda e: e.update(id="i" * length))
    if accepted:
        assert parse_event(event, ACCOUNT, REGION).event_id == "i" * length
        return
    with pytest.raises(InvalidEventError, match=rf"^id: {length} characters, more than 128") as raised:
        parse_event(event, ACCOUNT, REGION)
    assert len(str(raised.value)) < 300


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(lambda e: e.update(source="s" * 10_000), "source", id="source"),
        pytest.param(lambda e: e.update({"detail-type": "d" * 10_000}), "detail-type", id="detail-type"),
        pytest.param(lambda e: e.update(account="9" * 10_000), "account", id="account"),
        pytest.param(lambda e: e.update(region="r" * 10_000), "region", id="region"),
        pytest.param(lambda e: e.update(resources=["arn:" + "a" * 10_000]), "resources[0]", id="resource"),
        pytest.param(lambda e: e["detail"].update(ModelCardName="n" * 10_000), "detail.ModelCardName", id="name"),
        pytest.param(
            lambda e: e["detail"].update(ModelCardStatus="s" * 10_000),
            "detail.ModelCardStatus",
            id="status",
        ),
        pytest.param(lambda e: e["detail"].update(ModelCardVersion="v" * 10_000), "detail.ModelCardVersion", id="ver"),
    ],
)
def test_a_long_bad_field_is_not_echoed_in_full(change: Callable[[dict[str, Any]], object], field: str) -> None:
    event = variant(change)
    assert len(json.dumps(event)) < MAX_EVENT_BYTES  # rejected for the field, not for the size
    with pytest.raises(InvalidEventError, match=rf"^{re.escape(field)}: ") as raised:
        parse_event(event, ACCOUNT, REGION)
    assert len(str(raised.value)) < 300
