"""The scheduled reconciler end to end: it finds drift, reports it, repairs it, and reads RAM by pages.

Locally the schedule does not fire: the tests invoke ReconcileFunction through the Lambda API, as
the schedule would (``{}``), or with ``{"dryRun": true}``. The reconciler leaves a card changed
less than EvidenceWaitSeconds + QuietSeconds + ReconcileGraceSeconds ago to the execution its change
started (README, "Lost events and manual changes"), so the repair test waits that long (3 s here),
once, for all its cards.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    APPROVER,
    LEAD,
    SCIENTIST,
    Executions,
    all_rows,
    assert_associations,
    card_arn,
    card_content,
    client,
    describe,
    ladder_stages,
    output,
    sagemaker,
    stack,
)
from governance_support import flight_window, ledger, out_of_flight, reconcile, rule_switch

from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws


def metric_lines(system: LocalAws) -> list[dict[str, Any]]:
    """The reconciler's EMF documents of its runs (CloudWatch turns them into metrics), cold starts aside."""
    lines = lambda_inprocess.logs(system.stack.resources["ReconcileFunction"])
    documents = [doc for doc in map(json.loads, (line for line in lines if line.startswith("{"))) if "_aws" in doc]
    return [doc for doc in documents if "ColdStart" not in doc]


def log_messages(system: LocalAws, message: str) -> list[dict[str, Any]]:
    """Structured log lines with ``message`` from any function of the stack.

    In-process, every handler's Powertools Logger shares the one "cardshare" logging.Logger whose
    handler was bound to the first function's stdout, so the reconciler's lines may be filed
    under another function (see the report); AWS runs each function in its own process.
    """
    found = []
    for function in system.stack.environment:
        for line in lambda_inprocess.logs(system.stack.resources[function]):
            if line.startswith("{") and f'"message":"{message}' in line:
                found.append(json.loads(line))
    return found


# ---- a stack with every kind of drift ------------------------------------------------------------

#: kind → (card name, status after the drift or None when deleted, expected missing, expected extra).
DRIFT: dict[str, tuple[str, str | None, list[str], list[str]]] = {
    "lost-event": ("Lost-Event-Card", "PendingReview", ["test"], []),
    "unshared-by-hand": ("Unshared-By-Hand-Card", "Draft", ["dev"], []),
    "shared-by-hand": ("Shared-By-Hand-Card", "Draft", [], ["prod"]),
    "deleted-card": ("Deleted-Card", None, [], ["dev"]),
}
BLOCKED = "Self-Approved-Card"  # approved straight from Draft: blocked, shared as Draft (no drift)
CONVERGED = "Converged-Card"


def drifted(system: LocalAws) -> float:
    """Six cards in Draft, then four kinds of drift and one blocked approval.

    Returns when the last card change was made (epoch seconds, SageMaker's LastModifiedTime).
    """
    watch = Executions(system)
    lead = sagemaker(system, role=LEAD)
    names = [name for name, *_ in DRIFT.values()] + [BLOCKED, CONVERGED]
    for name in names:
        lead.create_model_card(ModelCardName=name, Content=card_content(), ModelCardStatus="Draft")
    created = watch.new()
    sagemaker(system, role=APPROVER).update_model_card(ModelCardName=BLOCKED, ModelCardStatus="Approved")
    [approval] = watch.new()
    executions = [*created, approval]
    assert len(executions) == len(names) + 1, [describe(e) for e in executions]
    assert all(e["status"] == "SUCCEEDED" for e in executions), [describe(e) for e in executions]
    assert (output(approval)["effectiveStatus"], output(approval)["outcome"]) == ("Draft", "blocked")

    rule_off, rule_on = rule_switch(system)
    rule_off()
    sagemaker(system, role=SCIENTIST).update_model_card(
        ModelCardName=DRIFT["lost-event"][0], ModelCardStatus="PendingReview"
    )
    lead.delete_model_card(ModelCardName=DRIFT["deleted-card"][0])
    rule_on()
    rams = client(system, "ram")
    shares = system.share_arns
    rams.disassociate_resource_share(
        resourceShareArn=shares["dev"], resourceArns=[card_arn(DRIFT["unshared-by-hand"][0])]
    )
    rams.associate_resource_share(resourceShareArn=shares["prod"], resourceArns=[card_arn(DRIFT["shared-by-hand"][0])])
    assert watch.new() == []  # nothing reacted to any of it
    last = lead.describe_model_card(ModelCardName=DRIFT["lost-event"][0])["LastModifiedTime"]
    return float(last.timestamp())


def expected_drift() -> list[tuple[str, str | None, list[str], list[str]]]:
    return sorted((card_arn(name), status, missing, extra) for name, status, missing, extra in DRIFT.values())


def reported(report: dict[str, Any]) -> list[tuple[str, str | None, list[str], list[str]]]:
    return sorted((d["card"], d["status"], d["missing"], d["extra"]) for d in report["drift"])


@stack()
def test_dry_run_reports_drift_then_the_scheduled_run_repairs_it(system: LocalAws) -> None:
    last_change = drifted(system)
    # At once: the lost event's change is still in flight, left to its execution (were the event
    # merely late, it would start one); the vanished card's associations have nothing in flight.
    report = reconcile(system, dry_run=True)
    in_flight = time.time() - last_change < flight_window(system)
    deleted_arn = card_arn(DRIFT["deleted-card"][0])
    assert (report["cards"], report["dryRun"], report["repairs"]) == (5, True, [])
    early = {d["card"] for d in report["drift"]}
    assert deleted_arn in early, early
    assert not in_flight or card_arn(DRIFT["lost-event"][0]) not in early, early
    watch = Executions(system, skip_existing=True)
    rows = all_rows(system)
    untouched = {name: ledger(system, card_arn(name)) for name in (BLOCKED, CONVERGED)}

    # Dry run once the changes are out of flight: every drift reported (log line each, Drift
    # metric), nothing started, nothing changed.
    out_of_flight(system, last_change)
    logged_before = len(log_messages(system, "drift found (dry run: not repaired)"))
    report = reconcile(system, dry_run=True)

    assert (report["cards"], report["drifted"], report["dryRun"], report["repairs"]) == (5, 4, True, [])
    assert reported(report) == expected_drift()
    assert card_arn(BLOCKED) not in {d["card"] for d in report["drift"]}  # the ledger explains it
    assert watch.new() == []
    assert all_rows(system) == rows
    # One EMF document per run: metrics Cardshare/Drift (the DriftAlarm's), CardsChecked, Repairs.
    metrics = metric_lines(system)[-1]
    assert (metrics["Drift"], metrics["CardsChecked"], metrics["Repairs"]) == ([4.0], [5.0], [0.0])
    [definition] = metrics["_aws"]["CloudWatchMetrics"]
    assert (definition["Namespace"], definition["Dimensions"], metrics["service"]) == (
        "Cardshare",
        [["service"]],
        "cardshare",
    )
    logged = log_messages(system, "drift found (dry run: not repaired)")[logged_before:]
    assert sorted(line["card"] for line in logged) == [arn for arn, *_ in expected_drift()]

    # The scheduled run ({}): one repair execution per drifted card, through the workflow.
    report = reconcile(system)

    assert (report["drifted"], report["dryRun"]) == (4, False)
    assert reported(report) == expected_drift()
    assert len(set(report["repairs"])) == 4
    repairs = watch.new()
    assert sorted(e["executionArn"] for e in repairs) == sorted(report["repairs"])
    assert all(e["status"] == "SUCCEEDED" for e in repairs), [describe(e) for e in repairs]
    for name, status, _, _ in DRIFT.values():
        assert_associations(system, card_arn(name), ladder_stages(system, status))
        # A repair is a decision like any other: it passed the gates and is in the ledger.
        assert ledger(system, card_arn(name))[-1]["executionArn"] in report["repairs"], name
    deleted = ledger(system, deleted_arn)[-1]
    assert (deleted["exists"], deleted["sharesRemoved"]) == (False, ["dev"])
    # The blocked approval and the converged card were left alone.
    assert {name: ledger(system, card_arn(name)) for name in (BLOCKED, CONVERGED)} == untouched
    assert_associations(system, card_arn(BLOCKED), ladder_stages(system, "Draft"))
    logged = log_messages(system, "repairing drift")
    assert sorted((line["card"], line["execution"]) for line in logged) == sorted(
        (d["card"], execution) for d, execution in zip(report["drift"], report["repairs"], strict=True)
    )
    assert [m["Repairs"] for m in metric_lines(system)] == [[0.0], [0.0], [4.0]]

    # Nothing left to repair.
    again = reconcile(system)
    assert (again["drifted"], again["repairs"]) == (0, [])
    assert watch.new() == []


# ---- cost: AWS calls grow with pages, not with cards x shares --------------------------------------


def _operation(entry: dict[str, Any]) -> str:
    headers = {k.lower(): v for k, v in entry["headers"].items()}
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = scope.group(1) if scope else "?"
    target = headers.get("x-amz-target")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    path = entry["url"].split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return f"{service}:{path}"


@contextmanager
def aws_calls(directory: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count every AWS request moto serves in the block, by "service:operation".

    The reconciler's boto3 clients live inside its handler module (the in-process Lambda imports
    it), out of the test's reach; moto's request recorder sees every request where moto serves it,
    whichever client sent it. Its file (``MOTO_RECORDER_FILEPATH``, read once at import) is pointed
    into the test's directory rather than the working directory.
    """
    from moto.moto_api import recorder

    monkeypatch.setattr(recorder, "_location", str(directory / "moto_recording"))
    recorder.reset_recording()
    counts: Counter[str] = Counter()
    recorder.start_recording()
    try:
        yield counts
    finally:
        recorder.stop_recording()
        counts.update(_operation(json.loads(line)) for line in recorder.download_recording().splitlines() if line)
        recorder.reset_recording()


def test_calls_grow_with_pages_not_cards_times_shares(
    system: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = Executions(system)
    lead = sagemaker(system, role=LEAD)

    def dry_run_calls(count: int) -> Counter[str]:
        for index in range(count):
            lead.create_model_card(
                ModelCardName=f"Card-{index}-of-{count}", Content=card_content(), ModelCardStatus="Draft"
            )
        assert [e["status"] for e in watch.new()] == ["SUCCEEDED"] * count
        # A dry run with nothing drifted starts nothing: the only requests are the reconciler's
        # (after a first run, so that the test's Lambda client and its role session already exist).
        reconcile(system, dry_run=True)
        with aws_calls(tmp_path, monkeypatch) as calls:
            report = reconcile(system, dry_run=True)
        assert report["drifted"] == 0
        calls.pop("lambda:invocations")  # the Invoke that ran it
        return calls

    one = dry_run_calls(1)
    six = dry_run_calls(5)
    # 6 cards x 3 shares would be 18 association reads; the reconciler lists every association of
    # the three shares in one paginated call (one page here), and every card in one ListModelCards
    # page; a converged card costs no DescribeModelCard and no ledger read.
    assert one == six == Counter({"ram:getresourceshareassociations": 1, "sagemaker:ListModelCards": 1})
