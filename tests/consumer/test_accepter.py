"""The accepter's loop against a RAM fake that pages and answers like RAM does."""

from __future__ import annotations

from typing import Any

import pytest
from accepter import accept_matching, received_invitations
from botocore.exceptions import ClientError
from invitation_rule import InvitationRule

MODEL_CARD = "123456789012"
RULE = InvitationRule(MODEL_CARD, "us-east-1", frozenset({"cardshare-dev"}))


def row(number: int, name: str = "cardshare-dev", sender: str = MODEL_CARD) -> dict[str, Any]:
    return {
        "resourceShareInvitationArn": f"arn:aws:ram:us-east-1:{sender}:resource-share-invitation/inv-{number}",
        "resourceShareName": name,
        "resourceShareArn": f"arn:aws:ram:us-east-1:{sender}:resource-share/share-{number}",
        "senderAccountId": sender,
        "receiverAccountId": "444444444444",
        "status": "PENDING",
    }


class FakeRam:
    """GetResourceShareInvitations in pages of ``page_size``; Accept as RAM answers it."""

    def __init__(self, rows: list[dict[str, Any]], page_size: int = 2) -> None:
        self.rows = rows
        self.page_size = page_size
        self.accept_calls: list[str] = []
        self.answered_by_someone_else: set[str] = set()

    def get_resource_share_invitations(self, nextToken: str = "0") -> dict[str, Any]:
        start = int(nextToken)
        page = {"resourceShareInvitations": [dict(r) for r in self.rows[start : start + self.page_size]]}
        if start + self.page_size < len(self.rows):
            page["nextToken"] = str(start + self.page_size)
        return page

    def accept_resource_share_invitation(self, resourceShareInvitationArn: str) -> dict[str, Any]:
        self.accept_calls.append(resourceShareInvitationArn)
        [target] = [r for r in self.rows if r["resourceShareInvitationArn"] == resourceShareInvitationArn]
        if target["status"] == "ACCEPTED" or resourceShareInvitationArn in self.answered_by_someone_else:
            target["status"] = "ACCEPTED"
            raise ClientError(
                {"Error": {"Code": "ResourceShareInvitationAlreadyAcceptedException", "Message": "accepted"}},
                "AcceptResourceShareInvitation",
            )
        target["status"] = "ACCEPTED"
        return {"resourceShareInvitation": dict(target)}


class RecordingLog:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("info", str(msg), kwargs))

    def warning(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.lines.append(("warning", str(msg), kwargs))


def test_reads_every_page() -> None:
    ram = FakeRam([row(n) for n in range(5)])
    assert [r["resourceShareInvitationArn"] for r in received_invitations(ram)] == [
        r["resourceShareInvitationArn"] for r in ram.rows
    ]


def test_accepts_the_match_on_a_later_page_and_logs_why_the_others_are_ignored() -> None:
    ram = FakeRam([row(1, name="cardshare-dev-evil"), row(2, sender="999999999999"), row(3), row(4, name="x")])
    log = RecordingLog()
    outcome = accept_matching(ram, RULE, log)
    assert outcome.accepted == [ram.rows[2]["resourceShareInvitationArn"]]
    assert ram.accept_calls == outcome.accepted
    assert [r["status"] for r in ram.rows] == ["PENDING", "PENDING", "ACCEPTED", "PENDING"]
    ignored = [line for line in log.lines if line[1] == "invitation ignored"]
    assert len(ignored) == 3
    assert all(line[2]["reason"] for line in ignored)


def test_a_second_run_is_harmless() -> None:
    ram = FakeRam([row(1), row(2, name="other")])
    accept_matching(ram, RULE, RecordingLog())
    again = accept_matching(ram, RULE, RecordingLog())
    assert again.accepted == []
    assert len(ram.accept_calls) == 1


def test_an_invitation_answered_meanwhile_is_noted_not_fatal() -> None:
    ram = FakeRam([row(1), row(2)])
    ram.answered_by_someone_else.add(ram.rows[0]["resourceShareInvitationArn"])
    outcome = accept_matching(ram, RULE, RecordingLog())
    assert outcome.accepted == [ram.rows[1]["resourceShareInvitationArn"]]
    assert outcome.ignored == {ram.rows[0]["resourceShareInvitationArn"]: "already accepted"}


def test_other_errors_fail_the_run() -> None:
    class Denied(FakeRam):
        def accept_resource_share_invitation(self, resourceShareInvitationArn: str) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "Accept")

    with pytest.raises(ClientError):
        accept_matching(Denied([row(1)]), RULE, RecordingLog())
