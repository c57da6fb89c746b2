"""Helpers for governance scenarios: people with every identity facet, the ledger, notifications, repairs.

Each person is a real role session of the embedded AWS (STS AssumeRole, optionally with a
SourceIdentity, or a Studio user profile on an execution role), so SageMaker records them exactly
as AWS would in CreatedBy / LastModifiedBy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from e2e_support import Executions, client, output

from cardshare.ledger import from_item
from cardshare_local.accounts import MODEL_CARD_ACCOUNT, session_for, studio_session
from cardshare_local.runtime import LocalAws

STUDIO_DOMAIN = "d-cardshare01"
STUDIO_ROLE = "StudioExecutionRole"


def person(
    system: LocalAws,
    role: str,
    session: str | None = None,
    *,
    account: str = MODEL_CARD_ACCOUNT,
    source_identity: str | None = None,
) -> Any:
    """A SageMaker client of someone acting through ``role`` (session name ``session``) in ``account``."""
    key = ("person", role, session, account, source_identity)
    cache: dict[Any, Any] = system.__dict__.setdefault("_people", {})
    if key not in cache:
        boto = session_for(account, role, session_name=session, source_identity=source_identity)
        cache[key] = boto.client("sagemaker")
    return cache[key]


def studio_user(system: LocalAws, profile: str, role: str = STUDIO_ROLE) -> Any:
    """A SageMaker client of Studio user ``profile`` (the domain's execution role ``role``)."""
    key = ("studio", profile, role)
    cache: dict[Any, Any] = system.__dict__.setdefault("_people", {})
    if key not in cache:
        cache[key] = studio_session(MODEL_CARD_ACCOUNT, STUDIO_DOMAIN, profile, role).client("sagemaker")
    return cache[key]


def subscribe(system: LocalAws, filter_policy: dict[str, Any] | None = None) -> str:
    """An SQS queue on the decisions topic (raw delivery keeps the message attributes on the SQS side)."""
    sqs = client(system, "sqs")
    url = sqs.create_queue(QueueName=f"decisions-{len(sqs.list_queues().get('QueueUrls', []))}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {"RawMessageDelivery": "true"}
    if filter_policy:
        attributes["FilterPolicy"] = json.dumps(filter_policy)
    client(system, "sns").subscribe(
        TopicArn=system.stack.outputs["DecisionsTopicArn"], Protocol="sqs", Endpoint=arn, Attributes=attributes
    )
    return str(url)


def received(system: LocalAws, url: str) -> list[dict[str, Any]]:
    """Every message on the queue so far: body (the record) and message attributes."""
    sqs = client(system, "sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            return messages
        for m in batch:
            messages.append({"record": json.loads(m["Body"]), "attributes": m.get("MessageAttributes", {})})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def ledger(system: LocalAws, arn: str) -> list[dict[str, Any]]:
    """The card's decisions in time order, as plain values (its '#evidence' item left out)."""
    dynamodb = client(system, "dynamodb")
    request: dict[str, Any] = {
        "TableName": system.stack.outputs["DecisionLedgerTableName"],
        "KeyConditionExpression": "cardArn = :card",
        "ExpressionAttributeValues": {":card": {"S": arn}},
    }
    items: list[dict[str, Any]] = []
    while True:
        page = dynamodb.query(**request)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [from_item(item) for item in items if not item["decidedAt"]["S"].startswith("#")]


def reconcile(system: LocalAws, *, dry_run: bool | None = None) -> dict[str, Any]:
    """Invoke the reconciler as the schedule does (or asking for a dry run); its report."""
    payload = {} if dry_run is None else {"dryRun": dry_run}
    response = client(system, "lambda").invoke(
        FunctionName=system.stack.resources["ReconcileFunction"], Payload=json.dumps(payload)
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return dict(body)


def flight_window(system: LocalAws) -> int:
    """How long the reconciler leaves a changed card to the execution its change started (seconds).

    EvidenceWaitSeconds + QuietSeconds + ReconcileGraceSeconds, as deployed (README).
    """
    environment = system.stack.environment["ReconcileFunction"]
    return sum(
        int(environment.get(name) or default)
        for name, default in (
            ("CARDSHARE_EVIDENCE_WAIT_SECONDS", 120),
            ("CARDSHARE_QUIET_SECONDS", 2),
            ("CARDSHARE_RECONCILE_GRACE_SECONDS", 60),
        )
    )


def out_of_flight(system: LocalAws, last_change: float) -> None:
    """Sleep until the reconciler no longer leaves a change made at ``last_change`` (epoch seconds) alone."""
    time.sleep(max(0.0, last_change + flight_window(system) + 0.2 - time.time()))


def rule_switch(system: LocalAws) -> tuple[Callable[[], None], Callable[[], None]]:
    """Disable / enable the card rule (events while it is off are lost)."""
    events = client(system, "events")
    rule = system.stack.resources["CardStateChangeRule"]
    return lambda: events.disable_rule(Name=rule), lambda: events.enable_rule(Name=rule)


def settle(executions: Executions, timeout: float = 120.0) -> list[dict[str, Any]]:
    """Every execution started since the last call, once all have ended; each must have SUCCEEDED."""
    fresh = executions.new(timeout)
    assert all(e["status"] == "SUCCEEDED" for e in fresh), [(e["status"], e.get("cause")) for e in fresh]
    return fresh


def last_output(executions: list[dict[str, Any]]) -> dict[str, Any]:
    """The output of the execution that started last."""
    return output(executions[-1])


def outcomes(system: LocalAws, arn: str) -> list[str]:
    """The outcomes the ledger recorded for the card, in time order."""
    return [r["outcome"] for r in ledger(system, arn)]
