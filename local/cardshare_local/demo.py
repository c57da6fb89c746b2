"""`make demo`: the seed scenario, played on the embedded AWS through the real stack.

People act through the SageMaker API exactly as they would in AWS; cardshare only reacts to the
events SageMaker emits. After every step the demo checks that RAM holds exactly what the stage
ladder says for the status the card has earned, and exits non-zero if anything did not converge.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from botocore.exceptions import ClientError
from rich.console import Console

from cardshare.status import CardStatus
from cardshare_cli import render
from cardshare_cli.history import Ledger
from cardshare_cli.inspection import Inspector
from cardshare_cli.stack import Connection, open_stack
from cardshare_local.accounts import MODEL_CARD_ACCOUNT, PROD_ACCOUNT, REGION, STAGE_ACCOUNTS
from cardshare_local.extensions import lambda_inprocess
from cardshare_local.runtime import LocalAws, local_aws

CARD_NAME = "Customer-Churn-Model-Card"
SELF_APPROVED_NAME = "Fraud-Scoring-Model-Card"
CONSUMERS = STAGE_ACCOUNTS
LEAD = "lead-data-scientist"
SCIENTIST = "data-scientist"
APPROVER = "model-approver"
# What a platform team subscribes to hear about refused approvals only (README: "blocked only").
BLOCKED_ONLY = {"outcome": ["blocked"]}


def card_arn(name: str) -> str:
    """The ARN SageMaker gives a card of this account."""
    return f"arn:aws:sagemaker:{REGION}:{MODEL_CARD_ACCOUNT}:model-card/{name}"


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

    def step(
        self,
        system: LocalAws,
        who: str,
        what: str,
        action: Callable[[], Any],
        card: str,
        earned: CardStatus | None = None,
    ) -> None:
        """Run one person's action, wait for cardshare to react, print and check the result.

        ``earned`` is the status the card should be shared as when a gate holds it back.
        """
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
        self._check(system, card, earned)

    def _print_execution(self, execution: dict[str, Any]) -> None:
        name = execution["name"][:8]
        took = (execution["stopDate"] - execution["startDate"]).total_seconds()
        if execution["status"] != "SUCCEEDED":
            self.problems.append(f"execution {execution['name']} {execution['status']}: {execution.get('cause')}")
            print(f"         execution {name}… {execution['status']}: {execution.get('error')}", file=self.out)
            return
        output = json.loads(execution["output"])
        added = ", ".join(output["sharesAdded"]) or "-"
        removed = ", ".join(output["sharesRemoved"]) or "-"
        print(
            f"         event → execution {name}… {took:.2f}s: {output['status']} v{output['version']} → "
            f"{output['outcome'].upper()}: +[{added}] -[{removed}]",
            file=self.out,
        )
        for reason in output.get("blocked", []):
            print(f"           blocked: {reason}", file=self.out)

    def _check(self, system: LocalAws, card: str, earned: CardStatus | None) -> None:
        arn = card_arn(card)
        sagemaker = system.session().client("sagemaker")
        try:
            status: CardStatus | None = CardStatus(sagemaker.describe_model_card(ModelCardName=arn)["ModelCardStatus"])
        except ClientError:
            status = None
        expected_status = earned or status
        expected = {stage.name for stage in system.settings().ladder.stages_for(expected_status)}
        actual = {name for name, state in system.associations(arn).items() if state == "ASSOCIATED"}
        if expected != actual:
            self.problems.append(f"{card} {status}: shared with {sorted(actual)}, expected {sorted(expected)}")
            print(f"         NOT CONVERGED: shared with {sorted(actual)}, expected {sorted(expected)}", file=self.out)

    def note(self, text: str) -> None:
        """Print an observation that is not a step."""
        print(f"         {text}", file=self.out)


def _consumer_reads(system: LocalAws, timeline: Timeline) -> None:
    arn = card_arn(CARD_NAME)
    for stage, account in CONSUMERS.items():
        client = system.session(account, f"{stage}-ml-engineer").client("sagemaker")
        card = client.describe_model_card(ModelCardName=arn)
        timeline.note(
            f"{stage} ({account}) reads the card by ARN: {card['ModelCardStatus']} v{card['ModelCardVersion']}"
        )
    prod = system.session(PROD_ACCOUNT, "prod-ml-engineer").client("sagemaker")
    try:
        prod.update_model_card(ModelCardName=arn, Content=card_content("prod", True))
    except ClientError as error:
        timeline.note(f"prod tries to update it: refused ({error.response['Error']['Code']}), read-only as promised")
    else:
        timeline.problems.append("prod could update an approved card")
        timeline.note("prod updated the card: READ-ONLY NOT ENFORCED")


def _subscribe_blocked_only(system: LocalAws) -> str:
    """An SQS queue subscribed to the decisions topic with the README's blocked-only filter."""
    sqs = system.session().client("sqs")
    url = sqs.create_queue(QueueName="cardshare-blocked-decisions")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    system.session().client("sns").subscribe(
        TopicArn=system.stack.outputs["DecisionsTopicArn"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(BLOCKED_ONLY), "RawMessageDelivery": "true"},
    )
    return str(url)


def _print_blocked_notifications(system: LocalAws, queue_url: str, out: TextIO) -> int:
    messages = system.session().client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    received = messages.get("Messages", [])
    print(
        f"\nNotifications through the 'blocked only' filter policy {json.dumps(BLOCKED_ONLY)}: {len(received)}",
        file=out,
    )
    for message in received:
        record = json.loads(message["Body"])
        print(f"  {record['cardName']} {record['status']} by {record['actor']}: {record['outcome']}", file=out)
    return len(received)


def _render_with_the_cli(system: LocalAws, out: TextIO) -> None:
    """The final matrix and the card's ledger, as `cardshare cards` and `cardshare ledger` show them."""
    stack = open_stack(Connection(system.stack.name, REGION))
    console = Console(file=out, width=160, highlight=False)
    inspector = Inspector(stack)
    accounts = ", ".join(f"{stage} = {account}" for stage, account in CONSUMERS.items())
    print(f"\nFinal sharing matrix, as `cardshare cards` shows it ({accounts})", file=out)
    console.print(render.matrix_table([stage.name for stage in inspector.stages], inspector.matrix()))
    console.print(render.ledger_table(CARD_NAME, Ledger(stack).decisions(CARD_NAME)))


def play(system: LocalAws, out: TextIO = sys.stdout) -> Timeline:
    """Play the scenario on a deployed system; return the timeline with any problems found."""
    timeline = Timeline(out)
    lead = system.session(MODEL_CARD_ACCOUNT, LEAD).client("sagemaker")
    scientist = system.session(MODEL_CARD_ACCOUNT, SCIENTIST).client("sagemaker")
    approver = system.session(MODEL_CARD_ACCOUNT, APPROVER).client("sagemaker")
    queue = _subscribe_blocked_only(system)
    print(f"cardshare demo: stack {system.stack.name!r} deployed from template.yaml in {MODEL_CARD_ACCOUNT}", file=out)
    for stage, arn in system.share_arns.items():
        print(f"  share {stage:<5} {arn}", file=out)

    def act(
        who: str, what: str, action: Callable[[], Any], card: str = CARD_NAME, earned: CardStatus | None = None
    ) -> None:
        timeline.step(system, who, what, action, card, earned)

    act(
        LEAD,
        f"creates {CARD_NAME} in Draft",
        lambda: lead.create_model_card(
            ModelCardName=CARD_NAME, Content=card_content(LEAD, False), ModelCardStatus="Draft"
        ),
    )
    act(
        SCIENTIST,
        "adds intended uses through the API",
        lambda: scientist.update_model_card(ModelCardName=CARD_NAME, Content=card_content(LEAD, True)),
    )
    act(
        SCIENTIST,
        "submits it for review (PendingReview)",
        lambda: scientist.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="PendingReview"),
    )
    act(
        APPROVER,
        "approves it in the console (Approved)",
        lambda: approver.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="Approved"),
    )
    _consumer_reads(system, timeline)

    act(
        SCIENTIST,
        f"creates {SELF_APPROVED_NAME} in Draft",
        lambda: scientist.create_model_card(
            ModelCardName=SELF_APPROVED_NAME, Content=card_content(SCIENTIST, True), ModelCardStatus="Draft"
        ),
        SELF_APPROVED_NAME,
    )
    act(
        SCIENTIST,
        "submits it for review (PendingReview)",
        lambda: scientist.update_model_card(ModelCardName=SELF_APPROVED_NAME, ModelCardStatus="PendingReview"),
        SELF_APPROVED_NAME,
    )
    act(
        SCIENTIST,
        "approves their own card (self-approval)",
        lambda: scientist.update_model_card(ModelCardName=SELF_APPROVED_NAME, ModelCardStatus="Approved"),
        SELF_APPROVED_NAME,
        CardStatus.PENDING_REVIEW,
    )

    act(
        LEAD,
        f"archives {CARD_NAME} (Archived)",
        lambda: lead.update_model_card(ModelCardName=CARD_NAME, ModelCardStatus="Archived"),
    )
    if _print_blocked_notifications(system, queue, out) != 1:
        timeline.problems.append("expected exactly one blocked notification (the self-approval)")
    _render_with_the_cli(system, out)
    return timeline


def main(out: TextIO = sys.stdout, verbose: bool = False) -> int:
    """Deploy, play, report; 0 when every step converged. ``verbose`` echoes the Lambda log."""
    began = time.monotonic()
    if verbose:
        lambda_inprocess.ECHO = lambda function, line: print(f"         [{function}] {line}", file=out)
    with local_aws() as system:
        timeline = play(system, out)
        lines = lambda_inprocess.logs(system.stack.resources["PlanCardFunction"])
        print(
            f"\nThe plan function logged {len(lines)} structured lines (make demo ARGS=--verbose shows them).", file=out
        )
    print(f"Wall time: {time.monotonic() - began:.1f}s", file=out)
    if timeline.problems:
        print("\nDID NOT CONVERGE:", file=out)
        for problem in timeline.problems:
            print(f"  - {problem}", file=out)
        return 1
    print("Every step converged.", file=out)
    return 0
