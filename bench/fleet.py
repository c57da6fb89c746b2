"""A fleet of model cards built straight through the APIs: cards, RAM associations, ledger history.

No workflow runs per card: the event rules are disabled first. The ledger history of every card is
a copy of a real one: one card goes through Draft → PendingReview → Approved through the workflow,
and each fleet card gets that card's records up to its own status (and its evidence item), so the
ledger holds what it would after real executions, at the real item sizes a Scan pages by.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.driver import CONTENT, Driver, card_arn, person
from cardshare.policy import StageLadder
from cardshare.timestamps import epoch
from cardshare_local.accounts import MODEL_CARD_ACCOUNT
from cardshare_local.extensions import ram

#: Card statuses by index: half Draft, a quarter each PendingReview and Approved (the gated half).
STATUSES = ("Draft", "Draft", "PendingReview", "Approved")
STAGES = {"Draft": ("dev",), "PendingReview": ("dev", "test"), "Approved": ("dev", "test", "prod")}
#: RAM takes at most 100 resources per AssociateResourceShare call; DynamoDB 25 items per batch.
_RAM_BATCH = 100
_DYNAMODB_BATCH = 25
TEMPLATE = "Fleet-Template"
_LADDER = ("Draft", "PendingReview", "Approved")


@dataclass
class Fleet:
    """The fleet on one deployment, grown to a size at a time."""

    driver: Driver
    history: list[dict[str, Any]] = field(default_factory=list)
    size: int = 0
    drifted: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sm = person("DataScientist", "fleet")
        self.ram = self.driver.client("ram")
        self.dynamodb = self.driver.client("dynamodb")
        self.table = str(self.driver.system.stack.outputs["DecisionLedgerTableName"])
        self.ladder: StageLadder = self.driver.system.settings().ladder

    def record_template(self) -> None:
        """Take one card through the workflow to Approved; keep its ledger items as every card's history."""
        approver = person("ModelApprover", "fleet-approver")
        self.driver.skip_existing()
        self.sm.create_model_card(ModelCardName=TEMPLATE, Content=CONTENT, ModelCardStatus="Draft")
        self.driver.new(1)
        self.sm.update_model_card(ModelCardName=TEMPLATE, ModelCardStatus="PendingReview")
        self.driver.new(1)
        approver.update_model_card(ModelCardName=TEMPLATE, ModelCardStatus="Approved")
        self.driver.new(1)
        pages = self.dynamodb.get_paginator("query").paginate(
            TableName=self.table,
            KeyConditionExpression="cardArn = :card",
            ExpressionAttributeValues={":card": {"S": card_arn(TEMPLATE)}},
        )
        self.history = [item for page in pages for item in page["Items"]]
        self.sm.delete_model_card(ModelCardName=TEMPLATE)
        for stage in self.ladder.stages:
            share = stage.share_for(card_arn(TEMPLATE))
            self.ram.disassociate_resource_share(resourceShareArn=share, resourceArns=[card_arn(TEMPLATE)])
        events = self.driver.client("events")
        for rule in events.list_rules()["Rules"]:
            events.disable_rule(Name=rule["Name"])

    def grow(self, size: int) -> None:
        """Add cards until the fleet has ``size``; return once none of them is in flight any more."""
        names = [name(i) for i in range(self.size, size)]
        for i, card in zip(range(self.size, size), names, strict=True):
            self.sm.create_model_card(ModelCardName=card, Content=CONTENT, ModelCardStatus=status(i))
        for stage in self.ladder.stages:
            # Each card in its own slot of the stage, as the workflow would put it.
            for share in stage.share_arns:
                members = [
                    card_arn(n)
                    for i, n in zip(range(self.size, size), names, strict=True)
                    if stage.name in stages(i) and stage.share_for(card_arn(n)) == share
                ]
                self._associate(share, members)
        modified = self._modified_times(set(names))
        items = [
            item
            for i, card in zip(range(self.size, size), names, strict=True)
            for item in self._history(card, status(i), modified[card])
        ]
        self._write(items)
        ram.settle(MODEL_CARD_ACCOUNT)
        self.size = size
        # The reconciler leaves cards changed within EvidenceWait + Quiet + grace alone (4 s here).
        time.sleep(5)

    def drift(self) -> int:
        """Break 1% of the cards: every 200th Approved card loses prod, every 200th Draft card gains it."""
        self.drifted = [i for i in range(self.size) if i % 200 in (7, 157)]
        for i in self.drifted:
            change = self.ram.disassociate_resource_share if i % 200 == 7 else self.ram.associate_resource_share
            change(resourceShareArn=self._prod_share(i), resourceArns=[card_arn(name(i))])
        ram.settle(MODEL_CARD_ACCOUNT)
        return len(self.drifted)

    def repair(self) -> None:
        """Undo :meth:`drift` by hand (no workflow runs)."""
        for i in self.drifted:
            change = self.ram.associate_resource_share if i % 200 == 7 else self.ram.disassociate_resource_share
            change(resourceShareArn=self._prod_share(i), resourceArns=[card_arn(name(i))])
        ram.settle(MODEL_CARD_ACCOUNT)
        self.drifted = []

    def _prod_share(self, i: int) -> str:
        """The prod share card ``i`` belongs in (its slot)."""
        return next(stage for stage in self.ladder.stages if stage.name == "prod").share_for(card_arn(name(i)))

    def _associate(self, share: str, arns: Sequence[str]) -> None:
        for start in range(0, len(arns), _RAM_BATCH):
            self.ram.associate_resource_share(
                resourceShareArn=share, resourceArns=list(arns[start : start + _RAM_BATCH])
            )

    def _modified_times(self, names: set[str]) -> dict[str, float]:
        pages = (
            self.driver.client("sagemaker")
            .get_paginator("list_model_cards")
            .paginate(PaginationConfig={"PageSize": 100})
        )
        return {
            s["ModelCardName"]: float(epoch(s["LastModifiedTime"]) or 0.0)
            for page in pages
            for s in page["ModelCardSummaries"]
            if s["ModelCardName"] in names
        }

    def _history(self, card: str, card_status: str, modified_at: float) -> list[dict[str, Any]]:
        """The template's items up to ``card_status``, as card ``card``; the newest judged its last change."""
        allowed = _LADDER[: _LADDER.index(card_status) + 1]
        kept = [
            item
            for item in self.history
            if item["decidedAt"]["S"].startswith("#") or item.get("status", {}).get("S") in allowed
        ]
        items: list[dict[str, Any]] = json.loads(json.dumps(kept).replace(TEMPLATE, card))
        decisions = [item for item in items if not item["decidedAt"]["S"].startswith("#")]
        if decisions:
            max(decisions, key=lambda item: item["decidedAt"]["S"])["modifiedAt"] = {"N": repr(modified_at)}
        return items

    def _write(self, items: Iterable[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for item in items:
            batch.append({"PutRequest": {"Item": item}})
            if len(batch) == _DYNAMODB_BATCH:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.table: batch}
        while pending:
            pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def name(index: int) -> str:
    """The fleet's card number ``index``."""
    return f"Fleet-{index:05d}"


def status(index: int) -> str:
    """The status card ``index`` is created in."""
    return STATUSES[index % len(STATUSES)]


def stages(index: int) -> tuple[str, ...]:
    """The stages card ``index`` is shared with, as its (ungoverned) status grants."""
    return STAGES[status(index)]
