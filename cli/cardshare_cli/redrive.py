"""Move dead-lettered card events back to the workflow until the queue is empty."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cardshare_cli.errors import OperatorError, one_line
from cardshare_cli.stack import Stack

_BATCH = 10
# Long enough to start an execution and delete the message before SQS shows it to anyone else.
_VISIBILITY_SECONDS = 60


@dataclass
class RedriveResult:
    """What a redrive found and did."""

    dry_run: bool
    queued: int
    """ApproximateNumberOfMessages when the redrive began."""
    executions: list[str] = field(default_factory=list)
    already_started: int = 0
    """Messages whose execution a previous redrive started (it was cut short before deleting them)."""
    unreadable: list[str] = field(default_factory=list)
    """Message IDs whose body is not a JSON event: left in the queue for a person to look at."""
    found: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "dryRun": self.dry_run,
            "queued": self.queued,
            "found": self.found,
            "redriven": len(self.executions),
            "alreadyStarted": self.already_started,
            "leftInQueue": self.unreadable,
            "executions": self.executions,
        }


class Redrive:
    """Drains the stack's card-events dead-letter queue into promote-card executions."""

    def __init__(self, stack: Stack) -> None:
        self._sqs = stack.client("sqs")
        self._stepfunctions = stack.client("stepfunctions")
        self._queue = stack.outputs.get("CardEventsDeadLetterQueueUrl", "")
        self._state_machine = stack.outputs["PromoteCardStateMachineArn"]
        if not self._queue:
            raise OperatorError(f"stack {stack.name!r} has no output CardEventsDeadLetterQueueUrl")

    def queued(self) -> int:
        """How many messages SQS says are waiting (approximate, as SQS counts)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self._queue, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attributes["Attributes"]["ApproximateNumberOfMessages"])

    def run(self, *, dry_run: bool, queued: int, tick: Callable[[int], None] = lambda _: None) -> RedriveResult:
        """Receive until SQS returns nothing new; start an execution per event and delete its message.

        A dry run only counts, and makes what it received visible again at the end.
        """
        result = RedriveResult(dry_run, queued)
        seen: set[str] = set()
        held: list[dict[str, str]] = []
        try:
            while True:
                batch = [m for m in self._receive() if m["MessageId"] not in seen]
                if not batch:
                    return result
                for message in batch:
                    seen.add(message["MessageId"])
                    result.found += 1
                    readable = self._is_event(message["Body"])
                    if not readable:
                        result.unreadable.append(message["MessageId"])
                    if dry_run or not readable:
                        held.append({"Id": str(len(held)), "ReceiptHandle": message["ReceiptHandle"]})
                    else:
                        self._redrive(message, result)
                    tick(1)
        finally:
            self._release(held)

    def _receive(self) -> list[dict[str, Any]]:
        # Long polling asks every SQS server: a short poll may answer empty while messages wait.
        response = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=_BATCH,
            VisibilityTimeout=_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
        )
        return list(response.get("Messages", []))

    @staticmethod
    def _is_event(body: str) -> bool:
        try:
            return isinstance(json.loads(body), dict)
        except ValueError:
            return False

    def _redrive(self, message: dict[str, Any], result: RedriveResult) -> None:
        # The message ID names the execution, so a redrive cut short and run again starts nothing twice.
        name = f"redrive-{message['MessageId']}"[:80]
        try:
            response = self._stepfunctions.start_execution(
                stateMachineArn=self._state_machine, name=name, input=message["Body"]
            )
            result.executions.append(str(response["executionArn"]))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise OperatorError(
                    f"redrove {len(result.executions)} event(s), then could not start the next: {one_line(error)} "
                    "(the rest stay in the queue)"
                ) from None
            result.already_started += 1
        self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])

    def _release(self, held: list[dict[str, str]]) -> None:
        # What was only looked at goes back to the queue now, not when its visibility timeout ends.
        for start in range(0, len(held), _BATCH):
            self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue,
                Entries=[{**entry, "VisibilityTimeout": 0} for entry in held[start : start + _BATCH]],
            )
