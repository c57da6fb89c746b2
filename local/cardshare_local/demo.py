"""`make demo`: the seed scenario, played on the embedded AWS through the real stack.

People act through the SageMaker API exactly as they would in AWS; cardshare only reacts to the
events SageMaker emits. After every step the demo checks that RAM holds exactly what the stage
ladder says for the card's status, and exits non-zero if anything did not converge.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import ClientError

from cardshare.status import CardStatus
from cardshare_local.accounts import DEV_ACCOUNT, MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, TEST_ACCOUNT
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws, local_aws

CARD_NAME = "Customer-Churn-Model-Card"
CARD_ARN = f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{CARD_NAME}"
CONSUMERS = {"dev": DEV_ACCOUNT, "test": TEST_ACCOUNT, "prod": PROD_ACCOUNT}
LEAD = "lead-data-scientist"
SCIENTIST = "data-scientist"
APPROVER = "model-approver"


def card_content(owner: str, with_uses: bool) -> str:
    """Model card content as a data scientist would send it (always whole, per UpdateModelCard)."""
    content: dict[str, Any] = {
        "model_overview": {
            "model_id": "customer-churn-xgboost",
            "model_owner": owner,
            "problem_type": "Binary Classification",
            "model_description": "Predicts which customers are likely to churn in the next 90 days.",
        },
        "business_details": {"business_problem": "Reduce churn with targeted retention offers."},
    }
    if with_uses:
        content["intended_uses"] = {
            "intended_uses": "Rank active customers for the retention team's weekly campaign.",
            "risk_rating": "Low",
        }
    return json.dumps(content)


@dataclass
class Timeline:
    """What happened, step by step, with the executions each step started."""

    out: TextIO
    started: float = field(default_factory=time.monotonic)
    seen: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def step(self, system: LocalAws, who: str, what: str, action: Callable[[], Any]) -> None:
        """Run one person's action, wait for cardshare to react, print and check the result."""
        begun = time.monotonic()
        action()
        executions = [e for e in system.wait_idle() if e["executionArn"] not in self.seen]
        self.seen.update(e["executionArn"] for e in executions)
        elapsed = time.monotonic() - begun
        print(f"\n[{time.monotonic() - self.started:6.2f}s] {who}: {what}  ({elapsed:.2f}s)", file=self.out)
        if not executions:
            print("         no workflow started", file=self.out)
        for execution in executions:
            self._print_execution(execution)
        self._check(system)

    def _print_execution(self, execution: dict[str, Any]) -> None:
        name = execution["name"][:12]
        took = (execution["stopDate"] - execution["startDate"]).total_seconds()
        if execution["status"] != "SUCCEEDED":
            self.problems.append(f"execution {execution['name']} {execution['status']}: {execution.get('cause')}")
            print(f"         execution {name}… {execution['status']}: {execution.get('error')}", file=self.out)
            return
        output = json.loads(execution["output"])
        added = ", ".join(output["sharesAdded"]) or "-"
        removed = ", ".join(output["sharesRemoved"]) or "-"
        print(
            f"         event → execution {name}… SUCCEEDED in {took:.2f}s: card {output['status']} "
            f"v{output['version']}; shared with +[{added}] revoked from -[{removed}]",
            file=self.out,
        )

    def _check(self, system: LocalAws) -> None:
        sagemaker = system.session().client("sagemaker")
        try:
            status: CardStatus | None = CardStatus(
                sagemaker.describe_model_card(ModelCardName=CARD_ARN)["ModelCardStatus"]
            )
        except ClientError:
            status = None
        ladder = system.settings().ladder
        expected = {stage.name for stage in ladder.stages_for(status)}
        actual = {name for name, state in system.associations(CARD_ARN).items() if state == "ASSOCIATED"}
        if expected != actual:
            self.problems.append(f"card {status}: shared with {sorted(actual)}, the ladder says {sorted(expected)}")
            print(f"         NOT CONVERGED: shared with {sorted(actual)}, expected {sorted(expected)}", file=self.out)

    def note(self, text: str) -> None:
        """Print an observation that is not a step."""
        print(f"         {text}", file=self.out)


def _consumer_reads(system: LocalAws, timeline: Timeline) -> None:
    for stage, account in CONSUMERS.items():
        client = system.session(account, f"{stage}-ml-engineer").client("sagemaker")
        card = client.describe_model_card(ModelCardName=CARD_ARN)
        timeline.note(
            f"{stage} ({account}) describes the card by ARN: {card['ModelCardStatus']} v{card['ModelCardVersion']}"
        )
    prod = system.session(PROD_ACCOUNT, "prod-ml-engineer").client("sagemaker")
    try:
        prod.update_model_card(ModelCardName=CARD_ARN, Content=card_content("prod", True))
    except ClientError as error:
        timeline.note(f"prod tries to update it: refused ({error.response['Error']['Code']}) - read-only, as promised")
    else:
        timeline.problems.append("prod could update an approved card")
        timeline.note("prod updated the card: READ-ONLY NOT ENFORCED")


def _matrix(system: LocalAws, out: TextIO) -> None:
    print("\nFinal sharing matrix (card x account → access)", file=out)
    header = f"  {'card':<28}" + "".join(f"{stage + ' ' + account:>22}" for stage, account in CONSUMERS.items())
    print(header, file=out)
    row = f"  {CARD_NAME:<28}" + "".join(f"{system.access(CARD_ARN, account):>22}" for account in CONSUMERS.values())
    print(row, file=out)


def play(system: LocalAws, out: TextIO = sys.stdout) -> Timeline:
    """Play the scenario on a deployed system; return the timeline with any problems found."""
    timeline = Timeline(out)
    lead = system.session(MODEL_CARD_ACCOUNT, LEAD).client("sagemaker")
    scientist = system.session(MODEL_CARD_ACCOUNT, SCIENTIST).client("sagemaker")
    approver = system.session(MODEL_CARD_ACCOUNT, APPROVER).client("sagemaker")
    print(f"cardshare demo: stack {system.stack.name!r} deployed from template.yaml in {MODEL_CARD_ACCOUNT}", file=out)
    for stage, arn in system.share_arns.items():
        print(f"  share {stage:<5} {arn}", file=out)

    timeline.step(
        system,
        LEAD,
        f"creates {CARD_NAME} in Draft",
        lambda: lead.create_model_card(
            ModelCardName=CARD_NAME, Content=card_content(LEAD, False), ModelCardStatus="Draft"
        ),
    )
    timeline.step(
        system,
        SCIENTIST,
        "adds intended uses through the API",
        lambda: scientist.update_model_card(ModelCardName=CARD_NAME, Content=card_content(LEAD, True)),
    )
    timeline.step(
        system,
        SCIENTIST,
        "submits it for review (PendingReview)",
        lambda: scientist.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="PendingReview"),
    )
    timeline.step(
        system,
        APPROVER,
        "approves it (Approved)",
        lambda: approver.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="Approved"),
    )
    _consumer_reads(system, timeline)
    timeline.step(
        system,
        LEAD,
        "archives it (Archived)",
        lambda: lead.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="Archived"),
    )
    _matrix(system, out)
    return timeline


def main(out: TextIO = sys.stdout, verbose: bool = False) -> int:
    """Deploy, play, report; 0 when every step converged. ``verbose`` echoes the Lambda log."""
    began = time.monotonic()
    if verbose:
        lambda_inprocess.ECHO = lambda function, line: print(f"         [{function}] {line}", file=out)
    with local_aws() as system:
        timeline = play(system, out)
        function = system.stack.resources["PlanCardFunction"]
        lines = lambda_inprocess.logs(function)
        print(
            f"\nThe plan function logged {len(lines)} structured lines (make demo ARGS=--verbose shows them).", file=out
        )
    print(f"\nWall time: {time.monotonic() - began:.1f}s", file=out)
    if timeline.problems:
        print("\nDID NOT CONVERGE:", file=out)
        for problem in timeline.problems:
            print(f"  - {problem}", file=out)
        return 1
    print("Every step converged.", file=out)
    return 0
