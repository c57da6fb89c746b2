"""The reconciler's calls and time at fleet sizes, against a naive checker, with and without drift."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.calls import LOG, by_service
from bench.driver import Driver
from bench.executions import PARAMETERS
from bench.fleet import Fleet
from cardshare.gates import GATED_STATUSES
from cardshare.ledger import DecisionLedger
from cardshare.policy import StageLadder
from cardshare.status import CardStatus
from cardshare_local.accounts import MODEL_CARD_ACCOUNT, session_for
from cardshare_local.runtime import local_aws

#: Above this many cards the naive checker is not run (moto answers each of its reads by walking every
#: association, so 10,000 cards would take an hour); its calls are computed by the same formula it
#: matched at the sizes it ran.
NAIVE_RUN_LIMIT = 1000
#: Cards per RAM share of a stage: under RAM's 5,000 with room for an uneven hash (README, "Stages
#: larger than one share"); a stage of the 10,000-card fleet spans three shares.
CARDS_PER_SLOT = 4750


@dataclass(frozen=True)
class Checked:
    """One check of the whole fleet."""

    checker: str
    cards: int
    drift: int
    found: int | None
    calls: dict[str, dict[str, int]]
    seconds: float | None

    @property
    def total(self) -> int:
        """AWS calls of the check."""
        return sum(n for ops in self.calls.values() for n in ops.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "checker": self.checker,
            "cards": self.cards,
            "driftedCards": self.drift,
            "driftFound": self.found,
            "calls": self.total,
            "byOperation": self.calls,
            "seconds": None if self.seconds is None else round(self.seconds, 2),
        }


def reconciler_dry_run(driver: Driver, cards: int, drift: int) -> Checked:
    """Invoke the deployed reconciler with ``{"dryRun": true}``; count its calls and time it."""
    function = str(driver.system.stack.outputs["ReconcileFunctionName"])
    client = driver.client("lambda")
    LOG.reset()
    started = time.perf_counter()
    response = client.invoke(FunctionName=function, Payload=json.dumps({"dryRun": True}).encode())
    seconds = time.perf_counter() - started
    result = json.loads(response["Payload"].read())
    if response.get("FunctionError"):
        raise RuntimeError(f"reconciler failed: {result}")
    return Checked("reconciler", cards, drift, int(result["drifted"]), by_service(LOG.snapshot()), seconds)


def naive_check(ladder: StageLadder, table: str, cards: int) -> Checked:
    """Check every card the naive way: its association with its share of each stage, the ledger of each gated card."""
    session = session_for(MODEL_CARD_ACCOUNT)  # not the driver's: this checker's calls are counted
    sagemaker, ram = session.client("sagemaker"), session.client("ram")
    ledger = DecisionLedger(session.client("dynamodb"), table)
    LOG.reset()
    started = time.perf_counter()
    for page in sagemaker.get_paginator("list_model_cards").paginate(PaginationConfig={"PageSize": 100}):
        for summary in page["ModelCardSummaries"]:
            for share in (stage.share_for(summary["ModelCardArn"]) for stage in ladder.stages):
                ram.get_resource_share_associations(
                    associationType="RESOURCE", resourceShareArns=[share], resourceArn=summary["ModelCardArn"]
                )
            if CardStatus.parse(summary["ModelCardStatus"]) in GATED_STATUSES:
                ledger.latest(summary["ModelCardArn"])
    return Checked("naive", cards, 0, None, by_service(LOG.snapshot()), time.perf_counter() - started)


def naive_formula(cards: int, gated: int, stages: int) -> dict[str, dict[str, int]]:
    """The naive checker's calls without running it: list pages, a read per card and stage, a Query per gated card."""
    return {
        "dynamodb": {"Query": gated},
        "ram": {"GetResourceShareAssociations": cards * stages},
        "sagemaker": {"ListModelCards": -(-cards // 100)},
    }


def per_card_query(clean: Checked, gated: int) -> Checked:
    """The reconciler as it was (one ledger Query per gated card instead of the bulk read), computed from a run."""
    calls = {service: dict(ops) for service, ops in clean.calls.items() if service != "dynamodb"}
    calls["dynamodb"] = {"Query": gated}
    return Checked("reconciler, Query per gated card (before; computed)", clean.cards, 0, None, calls, None)


def share_slots(cards: int) -> str:
    """``ShareSlots`` for a fleet of ``cards``: at most :data:`CARDS_PER_SLOT` a share, as the README advises."""
    return ",".join(str(slot) for slot in range(1, -(-cards // CARDS_PER_SLOT) + 1))


def run_scale(sizes: Sequence[int]) -> list[Checked]:
    """Grow one fleet through ``sizes``; at each, the reconciler without and with 1% drift, and the naive checker."""
    results: list[Checked] = []
    with local_aws({**PARAMETERS, "ShareSlots": share_slots(max(sizes))}) as system:
        driver = Driver(system)
        fleet = Fleet(driver)
        fleet.record_template()
        ladder = system.settings().ladder
        stages = len(ladder.stages)
        for size in sorted(sizes):
            fleet.grow(size)
            results.append(reconciler_dry_run(driver, size, 0))
            drifted = fleet.drift()
            results.append(reconciler_dry_run(driver, size, drifted))
            fleet.repair()
            gated = sum(1 for i in range(size) if i % 4 >= 2)
            results.append(per_card_query(results[-2], gated))
            if size <= NAIVE_RUN_LIMIT:
                checked = naive_check(ladder, fleet.table, size)
                if checked.calls != naive_formula(size, gated, stages):
                    raise AssertionError(f"naive checker's calls differ from its formula: {checked.calls}")
                results.append(checked)
            else:
                results.append(Checked("naive (computed)", size, 0, None, naive_formula(size, gated, stages), None))
    return results
