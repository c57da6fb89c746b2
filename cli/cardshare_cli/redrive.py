"""Move dead-lettered card events back to the workflow until the queue is empty."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from cardshare.events import InvalidEventError, parse_event
from cardshare_cli.errors import OperatorError, one_line
from cardshare_cli.stack import Stack

_BATCH = 10
# Long enough to handle a batch (and, in a dry run, the whole queue) before SQS shows a message to
# anyone else; what is only looked at is made visible again at the end.
_VISIBILITY_SECONDS = 300
# A closed execution of the same name that did not succeed: the event is started again under a
# numbered name, at most this many times in all.
_ATTEMPTS = 5
_DONE = ("SUCCEEDED", "RUNNING")


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
        self._account, self._region = stack.account, stack.region
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

        A dry run only counts. Whatever is not redriven (looked at, not an event, or left when a
        start failed) is made visible again before returning or raising, not when its visibility
        timeout ends.
        """
        result = RedriveResult(dry_run, queued)
        seen: set[str] = set()
        held: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        try:
            while pending := [m for m in self._receive() if m["MessageId"] not in seen]:
                while pending:
                    message = pending[0]
                    seen.add(message["MessageId"])
                    result.found += 1
                    readable = self._is_event(message["Body"])
                    if not readable:
                        result.unreadable.append(message["MessageId"])
                    if dry_run or not readable:
                        held.append(message)
                    else:
                        self._redrive(message, result)
                    pending.pop(0)
                    tick(1)
        except BaseException:
            self._release(held + pending)
            raise
        failed = self._release(held)
        if failed:
            raise OperatorError(f"{len(failed)} message(s) stay hidden until their visibility timeout: {failed[0]}")
        return result

    def _receive(self) -> list[dict[str, Any]]:
        # Long polling asks every SQS server: a short poll may answer empty while messages wait.
        response = self._sqs.receive_message(
            QueueUrl=self._queue,
            MaxNumberOfMessages=_BATCH,
            VisibilityTimeout=_VISIBILITY_SECONDS,
            WaitTimeSeconds=1,
        )
        return list(response.get("Messages", []))

    def _is_event(self, body: str) -> bool:
        # Only a state-change event of this stack's account and region: anything else would start
        # an execution that fails, and its message would be gone.
        try:
            parse_event(json.loads(body), self._account, self._region)
        except (ValueError, InvalidEventError):
            return False
        return True

    def _redrive(self, message: dict[str, Any], result: RedriveResult) -> None:
        # The message ID names the execution, so a redrive cut short and run again starts nothing
        # twice. StartExecution with the name of a running execution and the same input returns it;
        # with a closed one's, ExecutionAlreadyExists: then a success (or a run still going) is
        # done, and a failed run is started again under the next numbered name.
        for attempt in range(_ATTEMPTS):
            name = f"redrive-{message['MessageId']}" + (f"-{attempt}" if attempt else "")
            try:
                response = self._stepfunctions.start_execution(
                    stateMachineArn=self._state_machine, name=name[:80], input=message["Body"]
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                    raise OperatorError(
                        f"redrove {len(result.executions)} event(s), then could not start the next: "
                        f"{one_line(error)} (the rest stay in the queue)"
                    ) from None
                if self._status(name[:80]) in _DONE:
                    result.already_started += 1
                    break
                continue
            result.executions.append(str(response["executionArn"]))
            break
        else:
            raise OperatorError(
                f"message {message['MessageId']}: {_ATTEMPTS} earlier redrives of it failed; it stays in the queue"
            )
        self._sqs.delete_message(QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"])

    def _status(self, name: str) -> str:
        arn = self._state_machine.replace(":stateMachine:", ":execution:", 1) + f":{name}"
        return str(self._stepfunctions.describe_execution(executionArn=arn)["status"])

    def _release(self, messages: list[dict[str, Any]]) -> list[str]:
        entries = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
            for index, message in enumerate(messages)
        ]
        failed: list[str] = []
        for start in range(0, len(entries), _BATCH):
            response = self._sqs.change_message_visibility_batch(
                QueueUrl=self._queue, Entries=entries[start : start + _BATCH]
            )
            failed += [str(row.get("Message") or row.get("Code")) for row in response.get("Failed", [])]
        return failed
