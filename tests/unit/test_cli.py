"""The operator CLI's pure parts: the matrix from listings, error lines, card names, summaries."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError
from readme_ladder import LADDER, OWNER, SHARES, STAGES
from rich.console import Console

from cardshare.planner import AssociationStatus
from cardshare.policy import Stage, StageLadder, build_ladder
from cardshare.reconciler import Report
from cardshare.reconciliation import CardSummary, Drift, ResourceAssociation
from cardshare.settings import load_settings
from cardshare.status import CardStatus
from cardshare_cli.errors import OperatorError, one_line
from cardshare_cli.inspection import NONE, READ_ONLY, READ_WRITE, CardView, StageRow, holding_share, matrix_rows
from cardshare_cli.redrive import RedriveResult
from cardshare_cli.render import redrive_summary, report_summary, status_table
from cardshare_cli.stack import Connection, Stack


def card(name: str, status: CardStatus = CardStatus.DRAFT) -> CardSummary:
    return CardSummary(f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/{name}", name, status)


def row(card_name: str, stage: str, status: AssociationStatus, updated: float = 1.0) -> ResourceAssociation:
    return ResourceAssociation(
        f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/{card_name}", SHARES[stage], status, updated
    )


def by_permission(share_arn: str, association: str | None) -> str:
    """Prod's permission is read-only, the others read-write (what the real read would say)."""
    if association != "ASSOCIATED":
        return NONE
    return READ_ONLY if share_arn == SHARES["prod"] else READ_WRITE


def test_the_matrix_shows_access_where_associated_and_the_state_where_in_between() -> None:
    rows = matrix_rows(
        LADDER.stages,
        [card("B", CardStatus.APPROVED), card("A", CardStatus.PENDING_REVIEW)],
        [
            row("B", "dev", AssociationStatus.ASSOCIATED),
            row("B", "test", AssociationStatus.FAILED),
            row("B", "prod", AssociationStatus.ASSOCIATED),
            row("A", "dev", AssociationStatus.ASSOCIATING),
            # The newest row of a pair is its state: removed after it was added.
            row("A", "test", AssociationStatus.ASSOCIATED, updated=1.0),
            row("A", "test", AssociationStatus.DISASSOCIATED, updated=2.0),
        ],
        by_permission,
    )
    assert [(r.name, r.status, dict(r.cells)) for r in rows] == [
        ("A", "PendingReview", {"dev": "associating", "test": NONE, "prod": NONE}),
        ("B", "Approved", {"dev": READ_WRITE, "test": "failed", "prod": READ_ONLY}),
    ]


def test_a_deleted_card_still_shared_is_listed_last_and_one_fully_removed_is_not() -> None:
    rows = matrix_rows(
        LADDER.stages,
        [card("Kept")],
        [
            row("Kept", "dev", AssociationStatus.ASSOCIATED),
            row("Gone", "prod", AssociationStatus.ASSOCIATED),
            row("Cleaned", "dev", AssociationStatus.DISASSOCIATED),
        ],
        by_permission,
    )
    assert [(r.name, r.status, r.cells["prod"]) for r in rows] == [
        ("Kept", "Draft", NONE),
        ("Gone", "(deleted)", READ_ONLY),
    ]


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (OperatorError("no model card 'x'"), "no model card 'x'"),
        (NoCredentialsError(), "no AWS credentials"),
        (NoRegionError(), "no AWS region"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9/"), "cannot reach AWS"),
        (
            ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not\nallowed"}}, "DescribeModelCard"),
            "DescribeModelCard: AccessDeniedException: not allowed",
        ),
    ],
)
def test_errors_become_one_line_that_names_the_cause(error: Exception, expected: str) -> None:
    line = one_line(error)
    assert "\n" not in line
    assert expected in line


def test_an_echoed_value_is_cut_short() -> None:
    line = one_line(OperatorError("x" * 5000))
    assert len(line) == 300
    assert line.endswith("…")


@pytest.fixture
def stack() -> Stack:
    environment = {
        "CARDSHARE_ACCOUNT_ID": OWNER,
        "CARDSHARE_STAGES": STAGES,
        "CARDSHARE_LEDGER_TABLE": "ledger",
        "AWS_REGION": "us-east-1",
    }
    settings = load_settings(environment)
    return Stack("cardshare", "aws", OWNER, "us-east-1", {}, settings, environment, Connection(), None)  # type: ignore[arg-type]


def test_a_card_name_becomes_the_stacks_arn_and_an_arn_must_be_of_its_account_and_region(stack: Stack) -> None:
    assert stack.card_arn("Churn-1") == f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/Churn-1"
    arn = f"arn:aws:sagemaker:us-east-1:{OWNER}:model-card/Churn-1"
    assert stack.card_arn(arn) == arn
    for other in (
        "arn:aws:sagemaker:us-east-1:999999999999:model-card/Churn-1",
        f"arn:aws:sagemaker:eu-west-1:{OWNER}:model-card/Churn-1",
    ):
        with pytest.raises(OperatorError, match="lives in account"):
            stack.card_arn(other)
    for bad in ("", "-starts-with-dash", "has space", "x" * 64, "under_score"):
        with pytest.raises(OperatorError, match="is not a model card name"):
            stack.card_arn(bad)


def test_summaries_count_what_happened() -> None:
    drift = Drift(card("A").arn, CardStatus.DRAFT, ("dev",), ())
    started = Report(5, [drift], False, ["arn:exec:1"], [], {drift.card_arn: "arn:exec:1"})
    assert report_summary(started).splitlines() == [
        "5 card(s) checked, 1 drifted; 1 repair(s) started",
        "started arn:exec:1",
    ]
    assert report_summary(Report(5, [drift], True)) == "5 card(s) checked, 1 drifted; dry run: nothing started"
    looked = RedriveResult(True, 4, found=4, unreadable=["m-1"])
    assert redrive_summary(looked) == (
        "dry run: 3 event(s) in the dead-letter queue would be redriven; "
        "1 message(s) are not events and stay in the queue"
    )
    done = RedriveResult(False, 3, executions=["e1", "e2"], already_started=1, found=3)
    assert redrive_summary(done) == "redrove 2 event(s), 1 already started by an earlier redrive"


def test_an_audit_without_the_ledger_is_an_error_not_a_guess() -> None:
    """The scheduled reconciler falls back to plain statuses; the operator's audit must refuse instead."""
    from datetime import UTC, datetime

    from cardshare.reconciler import Fleet, LedgerUnavailableError, reconcile
    from cardshare_cli.repairs import _StrictLedger

    class Unreadable:
        def latest_of(self, card_arns: object) -> None:
            raise LedgerUnavailableError("AccessDeniedException: dynamodb:Query")

    class Listing:
        def list_cards(self) -> list[CardSummary]:
            return [card("Blocked", CardStatus.APPROVED)]

        def all_associations(self, share_arns: object) -> list[ResourceAssociation]:
            return [
                row("Blocked", "dev", AssociationStatus.ASSOCIATED),
                row("Blocked", "test", AssociationStatus.ASSOCIATED),
            ]

    now = datetime.now(UTC)
    lenient = reconcile(LADDER, Fleet(Listing(), Listing(), Unreadable(), None), dry_run=True, now=now)  # type: ignore[arg-type]
    assert [d.missing for d in lenient.drift] == [("prod",)]  # what the Lambda does: let the workflow judge
    with pytest.raises(OperatorError, match="cannot audit without the decision ledger: AccessDeniedException"):
        reconcile(
            LADDER,
            Fleet(Listing(), Listing(), _StrictLedger(Unreadable(), lambda _: None), None),
            dry_run=True,
            now=now,
        )  # type: ignore[arg-type]


# ---- stages spanning several shares: the stage is the column, whichever share holds the card -------


def _spread_ladder() -> StageLadder:
    raw = json.loads(STAGES)
    for stage in raw:
        stage["shareArns"] = [f"{stage['shareArns'][0]}-{slot}" for slot in range(3)]
    return build_ladder(raw, OWNER)


SPREAD = _spread_ladder()


def _slots(stage: Stage, arn: str) -> tuple[str, str]:
    """The card's own share of ``stage`` and another one of its shares."""
    own = stage.share_for(arn)
    return own, next(share for share in stage.share_arns if share != own)


def test_the_matrix_shows_a_stages_access_through_any_of_its_shares() -> None:
    a, b = card("A", CardStatus.PENDING_REVIEW), card("B", CardStatus.DRAFT)
    dev, test, prod = SPREAD.stages
    a_dev_own, a_dev_other = _slots(dev, a.arn)
    _, a_test_other = _slots(test, a.arn)
    b_dev_own, _ = _slots(dev, b.arn)
    _, b_prod_other = _slots(prod, b.arn)
    associations = [
        ResourceAssociation(a.arn, a_dev_other, AssociationStatus.ASSOCIATED),
        ResourceAssociation(a.arn, a_dev_own, AssociationStatus.ASSOCIATING),
        ResourceAssociation(a.arn, a_test_other, AssociationStatus.ASSOCIATED),
        ResourceAssociation(b.arn, b_dev_own, AssociationStatus.DISASSOCIATED),
        ResourceAssociation(b.arn, b_prod_other, AssociationStatus.FAILED),
    ]

    def access(share: str, association: str | None) -> str:
        if association != "ASSOCIATED":
            return NONE
        return READ_ONLY if share in prod.share_arns else READ_WRITE

    rows = matrix_rows(SPREAD.stages, [b, a], associations, access)
    assert [(r.name, dict(r.cells)) for r in rows] == [
        # A reaches dev and test through shares other than its own: still access (drift, not loss).
        ("A", {"dev": READ_WRITE, "test": READ_WRITE, "prod": NONE}),
        ("B", {"dev": NONE, "test": NONE, "prod": "failed"}),
    ]


def test_the_holding_share_prefers_an_associated_one_then_the_cards_own() -> None:
    dev = SPREAD.stages[0]
    arn = card("C").arn
    own, other = _slots(dev, arn)
    assert holding_share(dev, arn, {}) == own
    assert holding_share(dev, arn, {other: AssociationStatus.ASSOCIATED, own: AssociationStatus.ASSOCIATING}) == other
    assert holding_share(dev, arn, {other: AssociationStatus.ASSOCIATED, own: AssociationStatus.ASSOCIATED}) == own
    assert holding_share(dev, arn, {other: AssociationStatus.ASSOCIATING}) == other
    assert holding_share(dev, arn, {other: AssociationStatus.DISASSOCIATED}) == own


def test_status_names_the_share_holding_the_card_and_its_own_when_they_differ() -> None:
    rows = (
        StageRow("dev", "share-9", "ASSOCIATED", {}, READ_WRITE, True, "share-4"),
        StageRow("test", "share-5", "ASSOCIATED", {}, READ_WRITE, True, "share-5"),
    )
    view = CardView("arn", "C", "PendingReview", 2, None, rows)
    out = Console(width=250, record=True)
    out.print(status_table(view))
    text = out.export_text()
    assert "share-9 (its own share: share-4)" in text
    assert "share-5 (its own" not in text
    assert [r["ownShareArn"] for r in view.to_dict()["stages"]] == ["share-4", "share-5"]
